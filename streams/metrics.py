"""A worker's Prometheus metrics and where each record came from.

The recording functions here are no-ops (one ``None`` check) until
:func:`create` made this process's instruments, which
:func:`streams.observe.start` does only when ``NEWSSTREAM_METRICS_PORT`` is
set, so a worker without the endpoint pays nothing. This module imports no
client of Kafka or Elasticsearch: the delivery layer and the indexer record
into it; :mod:`streams.observe` serves it. Names follow the Prometheus
conventions (``_total`` counters, ``_seconds`` durations, base units); labels
are bounded: ``stage`` is a built-in stage or a configured plugin's name,
``reason`` one of :data:`REASON_CLASSES` (never a message's free text),
``cause`` one of :data:`RETRY_CAUSES`.

=============================================  =========  ===================================================
name                                           type       what
=============================================  =========  ===================================================
``newsstream_messages_in_total``               counter    messages an agent took from its topic, by stage
``newsstream_messages_out_total``              counter    records a stage sent that Kafka acknowledged (the
                                                          index stage: documents Elasticsearch acknowledged)
``newsstream_dead_letters_total``              counter    dead letters Kafka acknowledged, by stage and reason
``newsstream_batch_size``                      histogram  messages per batch, by stage
``newsstream_batch_duration_seconds``          histogram  a batch's handling until its outputs are safe, by
                                                          stage (its sum is the time spent in the stage)
``newsstream_publish_to_indexed_seconds``      histogram  Kafka timestamp of the raw message -> Elasticsearch
                                                          acknowledged its document
``newsstream_bulk_request_duration_seconds``   histogram  one bulk request, sent to answered
``newsstream_bulk_items_retried_total``        counter    documents sent again, by cause
``newsstream_bulk_throttled_items_total``      counter    documents Elasticsearch answered HTTP 429
``newsstream_elasticsearch_unreachable``       gauge      1 while the last bulk request found no Elasticsearch
``newsstream_index_blocked``                   gauge      1 while the bulk writer waits for a cluster block
                                                          (a read-only index: the flood-stage disk watermark)
``newsstream_consumer_lag``                    gauge      end offset - committed offset, by consumer group,
                                                          topic and partition (read from Kafka at each scrape,
                                                          by :mod:`streams.observe`)
=============================================  =========  ===================================================

**Where a record came from.** Every record an agent sends carries the
header ``newsstream-origin`` (:class:`Origin`): the raw message's topic,
partition, offset and Kafka timestamp, copied from stage to stage and onto
dead letters. The index stage measures publish-to-indexed latency with it;
``newsstream publish --wait`` matches dead letters to what it published.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# ---------------------------------------------------------------- reason classes

#: The parser's rejection reasons (:class:`streams.parsing.ParseRejected`), each a class of its own.
PARSE_REJECTIONS = ("empty input", "binary input", "undecodable input", "no article text")

#: Every value of the ``reason`` label: the dead letters' reasons, in classes.
REASON_CLASSES = (
    "empty_input",
    "binary_input",
    "undecodable_input",
    "no_article_text",
    "rejected",  # another rejection by the parser
    "invalid_record",  # the message is not the record its topic carries
    "too_large",  # an output over NEWSSTREAM_MAX_MESSAGE_BYTES
    "kafka_refused",  # Kafka refused an output record
    "es_mapping",  # Elasticsearch refused the document: it does not fit the mapping
    "es_unavailable",  # Elasticsearch answered 429 or 5xx until the writer gave up
    "es_rejected",  # any other refusal by Elasticsearch
    "error",  # an exception in a stage or a plugin
    "timeout",  # over the stage's time budget (NEWSSTREAM_PARSE/ENRICH_TIMEOUT_SECONDS): its child was killed
    "crash",  # the stage's child process died on the message twice (a segfault, the OOM killer)
)

#: Why the bulk writer sent documents again (``cause`` label).
RETRY_CAUSES = ("http_429", "http_5xx", "connection", "cluster_block")


def reason_class(error: str, reason: str) -> str:
    """Return the class (one of :data:`REASON_CLASSES`) of a dead letter's ``error`` and ``reason``.

    ``error`` is the exception's class or Elasticsearch's error type,
    ``reason`` the letter's reason (see :class:`streams.records.DeadLetter`).
    """
    text = (reason or "").strip().lower()
    if error in ("StageTimeout", "StageCrash"):  # streams.isolation's failures
        return "timeout" if error == "StageTimeout" else "crash"
    if error == "ParseRejected":
        return text.replace(" ", "_") if text in PARSE_REJECTIONS else "rejected"
    if error == "RecordError":
        return "invalid_record"
    if error == "MessageTooLarge":
        return "too_large"
    if text.startswith("output refused by kafka"):
        return "kafka_refused"
    e = (error or "").lower()
    if e.startswith("http_") or "rejected_execution" in e or "circuit_breaking" in e or "unavailable" in e:
        return "es_unavailable"
    if "mapping" in e or "mapper" in e or "parsing_exception" in e:
        return "es_mapping"
    if e.endswith("_exception"):
        return "es_rejected"
    return "error"


# ---------------------------------------------------------------- where a record came from

ORIGIN_HEADER = "newsstream-origin"


@dataclass(frozen=True)
class Origin:
    """The raw message a record comes from: topic, partition, offset, Kafka timestamp (ms since the epoch)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int

    def encode(self) -> bytes:
        """``b"<timestamp_ms> <topic> <partition> <offset>"`` (topic names have no spaces)."""
        return f"{self.timestamp_ms} {self.topic} {self.partition} {self.offset}".encode()

    @classmethod
    def decode(cls, value: bytes | None) -> Origin | None:
        """Read a header value written by :meth:`encode`; None when absent or malformed."""
        if not value:
            return None
        parts = bytes(value).decode("utf-8", "replace").split(" ")
        if len(parts) != 4:
            return None
        try:
            return cls(parts[1], int(parts[2]), int(parts[3]), int(parts[0]))
        except ValueError:
            return None


def header(headers: Any, name: str) -> bytes | None:
    """The value of header ``name`` in ``headers`` (a dict, a list of pairs or None), or None."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, dict) else headers
    for key, value in pairs:
        if key == name and isinstance(value, (bytes, bytearray)):
            return bytes(value)
    return None


def origin_header(message: Any) -> bytes:
    """The ``newsstream-origin`` value of what an agent sends for the consumed ``message`` (faust's Message).

    The message's own header when it has one (it came through a stage
    already), else the message itself is the origin: its topic, partition,
    offset and Kafka timestamp (faust gives seconds; stored in ms).
    """
    found = header(message.headers, ORIGIN_HEADER)
    if found:
        return found
    ts = message.timestamp
    ts_ms = int(ts * 1000) if ts else int(time.time() * 1000)
    return Origin(message.topic, message.partition, message.offset, ts_ms).encode()


def origin_of(message: Any) -> Origin:
    """The :class:`Origin` of a consumed faust ``message`` (see :func:`origin_header`)."""
    return Origin.decode(origin_header(message)) or Origin(message.topic, message.partition, message.offset, 0)


# ---------------------------------------------------------------- metrics

#: Buckets (seconds) of the publish-to-indexed latency: the pipeline's p99 target is 2 s, a burst takes a minute.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
#: Buckets (seconds) of a batch's and a bulk request's duration.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Buckets (messages) of a batch's size: up to the index agent's 2 x 500.
SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)


class _Instruments:
    """The metric objects of this process (prometheus-client), created by :func:`create`."""

    def __init__(self, pc: Any, stages: Iterable[str]) -> None:
        self.messages_in = pc.Counter("newsstream_messages_in", "Messages an agent took from its topic.", ["stage"])
        self.messages_out = pc.Counter(
            "newsstream_messages_out",
            "Records a stage sent that Kafka acknowledged; for the index stage, documents Elasticsearch acknowledged.",
            ["stage"],
        )
        self.dead_letters = pc.Counter(
            "newsstream_dead_letters",
            "Dead letters Kafka acknowledged, by stage and reason class.",
            ["stage", "reason"],
        )
        self.batch_size = pc.Histogram(
            "newsstream_batch_size", "Messages per batch an agent handled.", ["stage"], buckets=SIZE_BUCKETS
        )
        self.batch_seconds = pc.Histogram(
            "newsstream_batch_duration_seconds",
            "Seconds from a batch handed to its agent until its outputs were safe (acknowledged).",
            ["stage"],
            buckets=DURATION_BUCKETS,
        )
        self.latency = pc.Histogram(
            "newsstream_publish_to_indexed_seconds",
            "Seconds from the raw message's Kafka timestamp to Elasticsearch acknowledging its document.",
            buckets=LATENCY_BUCKETS,
        )
        self.bulk_seconds = pc.Histogram(
            "newsstream_bulk_request_duration_seconds",
            "Seconds from sending a bulk request to its answer (or connection error).",
            buckets=DURATION_BUCKETS,
        )
        self.bulk_retried = pc.Counter(
            "newsstream_bulk_items_retried", "Documents the bulk writer sent again, by cause.", ["cause"]
        )
        self.bulk_throttled = pc.Counter(
            "newsstream_bulk_throttled_items", "Documents Elasticsearch answered with HTTP 429 (too many requests)."
        )
        self.es_unreachable = pc.Gauge(
            "newsstream_elasticsearch_unreachable",
            "1 while the last bulk request of a process found no Elasticsearch (connection error or timeout), else 0.",
            multiprocess_mode="livemax",
        )
        self.index_blocked = pc.Gauge(
            "newsstream_index_blocked",
            "1 while a process's bulk writer waits for a cluster block on the index to be lifted, else 0.",
            multiprocess_mode="livemax",
        )
        # every series exists from the start, at 0: a rate() over a counter
        # that appears only at its first increment misses that increment
        for stage in stages:
            self.messages_in.labels(stage)
            self.messages_out.labels(stage)
            self.batch_size.labels(stage)
            self.batch_seconds.labels(stage)
            for reason in REASON_CLASSES:
                self.dead_letters.labels(stage, reason)
        for cause in RETRY_CAUSES:
            self.bulk_retried.labels(cause)
        self.es_unreachable.set(0)
        self.index_blocked.set(0)


_m: _Instruments | None = None


def enabled() -> bool:
    """True when this process keeps metrics (:func:`create` ran: the worker has a metrics port)."""
    return _m is not None


def count_in(stage: str, n: int) -> None:
    """``n`` messages taken by ``stage``'s agent."""
    if _m is not None:
        _m.messages_in.labels(stage).inc(n)


def count_out(stage: str, n: int) -> None:
    """``n`` records of ``stage`` acknowledged (by Kafka, or by Elasticsearch for the index stage)."""
    if _m is not None and n:
        _m.messages_out.labels(stage).inc(n)


def count_dead_letter(stage: str, reason: str, n: int = 1) -> None:
    """``n`` dead letters of ``stage`` acknowledged by Kafka; ``reason`` one of :data:`REASON_CLASSES`."""
    if _m is not None:
        _m.dead_letters.labels(stage, reason).inc(n)


def observe_batch(stage: str, size: int, seconds: float) -> None:
    """A batch of ``size`` messages handled by ``stage`` in ``seconds``."""
    if _m is not None:
        _m.batch_size.labels(stage).observe(size)
        _m.batch_seconds.labels(stage).observe(seconds)


def observe_indexed(published_ms: Iterable[int], acknowledged: float) -> None:
    """Documents acknowledged at ``acknowledged`` (epoch seconds) whose raw messages were published at ``published_ms``."""
    if _m is not None:
        for ms in published_ms:
            if ms > 0:
                _m.latency.observe(max(0.0, acknowledged - ms / 1000))


def observe_bulk_request(seconds: float, reached: bool) -> None:
    """One bulk request: its duration, and whether it reached Elasticsearch at all."""
    if _m is not None:
        _m.bulk_seconds.observe(seconds)
        _m.es_unreachable.set(0 if reached else 1)


def count_bulk_retried(cause: str, n: int) -> None:
    """``n`` documents sent again; ``cause`` one of :data:`RETRY_CAUSES`."""
    if _m is not None and n:
        _m.bulk_retried.labels(cause).inc(n)


def set_index_blocked(blocked: bool) -> None:
    """The bulk writer started (True) or stopped (False) waiting for a cluster block to be lifted."""
    if _m is not None:
        _m.index_blocked.set(1 if blocked else 0)


def count_throttled(n: int) -> None:
    """``n`` documents answered HTTP 429."""
    if _m is not None and n:
        _m.bulk_throttled.inc(n)


# ---------------------------------------------------------------- consumer lag


def create(stages: Iterable[str]) -> None:
    """Make this process's instruments (once); ``stages`` are the stage labels whose series start at 0.

    prometheus-client chooses its value store (in-process, or the multiprocess
    files) when it is first imported, from ``PROMETHEUS_MULTIPROC_DIR``: the
    caller sets that first, and the import is here, not at the top.
    """
    global _m
    if _m is None:
        import prometheus_client  # noqa: PLC0415

        _m = _Instruments(prometheus_client, stages)
