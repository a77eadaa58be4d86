"""The faust App and its topics, built from settings.

Every topic carries raw bytes (``value_serializer="raw"``): the agents decode
records with orjson themselves (:mod:`streams.records`), so a message that is
not a record is a dead letter, not a codec crash.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import faust
from faust.worker import Worker as FaustWorker

from streams import logfilter
from streams.kafka import MESSAGE_OVERHEAD, faust_broker_options
from streams.settings import Settings


@dataclass
class Topics:
    """The four topics of the pipeline."""

    raw: faust.TopicT
    parsed: faust.TopicT
    enriched: faust.TopicT
    dlq: faust.TopicT


def data_dir(settings: Settings, app_id: str) -> Path:
    """Return faust's data directory of app ``app_id``: ``<NEWSSTREAM_WORKER_DATA_DIR>/<app_id>``
    (default ``<NEWSSTREAM_SERVICES_DIR>/faust/<app_id>``), never the working directory.

    The tables are in memory (``store="memory://"``): nothing there needs keeping.
    """
    return (settings.worker_data_dir or settings.services_dir / "faust") / app_id


def create_app(settings: Settings, app_id: str | None = None) -> faust.App:
    """Return a faust App for ``settings`` (no agents yet: see :mod:`streams.agents`).

    ``app_id`` overrides ``settings.app_id``; it is the prefix of the app's
    consumer group. The app's data directory is :func:`data_dir` (created here).
    """
    app_id = app_id or settings.app_id
    datadir = data_dir(settings, app_id)
    datadir.parent.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    return faust.App(
        app_id,
        **faust_broker_options(settings),
        datadir=str(datadir),
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        store="memory://",
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_every=200,
        broker_commit_interval=1.0,
        broker_request_timeout=90.0,
        broker_session_timeout=settings.consumer_session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.consumer_session_timeout_seconds / 4),
        producer_max_request_size=settings.max_message_bytes + MESSAGE_OVERHEAD,
        consumer_max_fetch_size=settings.max_message_bytes + MESSAGE_OVERHEAD,
        stream_buffer_maxsize=max(4096, settings.bulk_max_docs * 4),
        # At shutdown and rebalance, do not wait for taken events to be acked:
        # an agent acks a batch only once its outputs are safe, so while
        # Elasticsearch is away faust would wait for ever. Unacked events are
        # not committed and come again to the next owner (at least once).
        stream_wait_empty=False,
        logging_config=None,
    )


def create_topics(app: faust.App, settings: Settings) -> Topics:
    """Declare the pipeline's topics on ``app``."""

    def topic(name: str) -> faust.TopicT:
        return app.topic(
            name,
            partitions=settings.partitions,
            value_serializer="raw",
            key_serializer="raw",
            config={"max.message.bytes": str(settings.max_message_bytes + MESSAGE_OVERHEAD)},
        )

    return Topics(
        raw=topic(settings.topic_raw),
        parsed=topic(settings.topic_parsed),
        enriched=topic(settings.topic_enriched),
        dlq=topic(settings.topic_dlq),
    )


class Worker(FaustWorker):
    """faust's worker, with repeated log lines once per interval (:mod:`streams.logfilter`). Named
    ``Worker`` as faust's is: its lines read ``[^Worker]: Ready`` as operators and tests expect."""

    log_repeat_seconds = logfilter.DEFAULT_INTERVAL

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)  # faust's spinner: off below WARNING
        # faust replaces the root logger's handlers when it starts: filter the new ones
        logfilter.install(self.log_repeat_seconds, logger)
