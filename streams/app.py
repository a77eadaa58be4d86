"""The faust App and its topics, built from settings.

Every topic carries raw bytes (``value_serializer="raw"``): the agents decode
records with orjson themselves (:mod:`streams.records`), so a message that is
not a record is a dead letter, not a codec crash.

The app's producer waits for all in-sync replicas (``acks=all``) and is
idempotent (``enable_idempotence``): faust turns idempotence on only inside
transactions, so :class:`IdempotentTransport` turns it on for every send,
and a batch aiokafka sends again after a lost acknowledgement is not written
twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.worker import Worker as FaustWorker

from streams import logfilter
from streams.kafka import MESSAGE_OVERHEAD, faust_broker_options
from streams.settings import Settings


class IdempotentProducer(faust_aiokafka.Producer):
    """faust's aiokafka producer with ``acks=all`` and ``enable_idempotence`` on every send."""

    def _settings_extra(self) -> Mapping[str, Any]:
        # faust's hook for the options it adds in a transaction (where it sets these same two)
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class IdempotentTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport, whose producers are :class:`IdempotentProducer`."""

    Producer = IdempotentProducer


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


def create_app(settings: Settings, app_id: str | None = None, replication_factor: int | None = None) -> faust.App:
    """Return a faust App for ``settings`` (no agents yet: see :mod:`streams.agents`).

    ``app_id`` overrides ``settings.app_id``; it is the prefix of the app's
    consumer group. ``replication_factor`` is that of the topics faust
    creates itself (its leader topic; the worker creates it first, see
    :func:`streams.publish.ensure_topics`): default
    ``settings.replication_factor``, else 1. The app's data directory is
    :func:`data_dir` (created here).
    """
    app_id = app_id or settings.app_id
    datadir = data_dir(settings, app_id)
    datadir.parent.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    app = faust.App(
        app_id,
        **faust_broker_options(settings),
        datadir=str(datadir),
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=replication_factor or settings.replication_factor or 1,
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
    app.transport = IdempotentTransport(app.conf.broker_consumer, app)
    return app


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
