"""Seeing a worker run: Prometheus metrics, the health endpoint, consumer lag, JSON logs.

**Metrics** (prometheus-client) are kept only when ``NEWSSTREAM_METRICS_PORT``
is set; otherwise every recording function here is a no-op (one ``None``
check), so a worker without the endpoint pays nothing. Names follow the
Prometheus conventions (``_total`` counters, ``_seconds`` durations, base
units); labels are bounded: ``stage`` is a built-in stage or a configured
plugin's name, ``reason`` one of :data:`REASON_CLASSES` (never a message's
free text), ``cause`` one of :data:`RETRY_CAUSES`.

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
``newsstream_consumer_lag``                    gauge      end offset - committed offset, by consumer group,
                                                          topic and partition (read from Kafka at each scrape)
=============================================  =========  ===================================================

**One endpoint per worker, multiprocess mode.** A worker is several
processes: ``NEWSSTREAM_WORKER_PROCESSES`` for the built-in agents and one per
plugin consumer agent, all children of the one ``newsstream worker``. Each
process writes its metrics to memory-mapped files in one directory
(prometheus-client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``; a
temporary directory unless set, emptied at start), and the parent alone
serves them, summed, on the port. One port per pod is what Kubernetes probes
and a Service expect, and a counter keeps the counts of a child that died
(one port per process would lose them, and would need as many scrape
targets as processes). The consumer lag is not a process's metric: the
parent reads it from Kafka (committed offsets against end offsets) when
scraped, for the built-in agents' group and every plugin agent's group.

**Health** on the same port: ``/healthz`` answers 200 while the parent's
event loop runs a callback within :data:`LOOP_TIMEOUT` seconds and every
child process runs and its event loop beat (:func:`beat`, every
:data:`HEARTBEAT_SECONDS`) within :data:`HEARTBEAT_TIMEOUT` seconds;
``/readyz`` answers 200 once the consumer group
has assigned this worker its partitions and Kafka (and, when this worker
indexes, Elasticsearch) answer. Both answer JSON naming each check.

**Where a record came from.** Every record an agent sends carries the
header ``newsstream-origin`` (:class:`Origin`): the raw message's topic,
partition, offset and Kafka timestamp, copied from stage to stage and onto
dead letters. The index stage measures publish-to-indexed latency with it;
``newsstream publish --wait`` matches dead letters to what it published.

**Logs**: ``NEWSSTREAM_LOG_FORMAT=json`` writes one JSON object per line
(:class:`JsonFormatter`) with ``stage``, ``article_id``, ``topic``,
``partition`` and ``offset`` where a log call gives them.
"""

from __future__ import annotations

import contextvars
import http.server
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError

from streams import kafka
from streams.settings import Settings

log = logging.getLogger(__name__)

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
)

#: Why the bulk writer sent documents again (``cause`` label).
RETRY_CAUSES = ("http_429", "http_5xx", "connection")


def reason_class(error: str, reason: str) -> str:
    """Return the class (one of :data:`REASON_CLASSES`) of a dead letter's ``error`` and ``reason``.

    ``error`` is the exception's class or Elasticsearch's error type,
    ``reason`` the letter's reason (see :class:`streams.records.DeadLetter`).
    """
    text = (reason or "").strip().lower()
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

#: Set for a worker's child processes: they write the metric files, their parent serves them.
CHILD_ENV = "NEWSSTREAM_METRICS_CHILD"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Seconds the event loop has to run a callback for /healthz to answer 200. The parse
#: stage holds the loop while it parses a batch (up to 100 pages, 2 s at 50 pages/s on
#: a free core, several times that on a busy one): a probe must not take that for a hang.
LOOP_TIMEOUT = 10.0
#: A child process's event loop touches its heartbeat file this often (seconds) ...
HEARTBEAT_SECONDS = 5.0
#: ... and /healthz fails when one has not for this long.
HEARTBEAT_TIMEOUT = 60.0


class _Instruments:
    """The metric objects of this process (prometheus-client), created by :func:`start`."""

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


_m: _Instruments | None = None


def enabled() -> bool:
    """True when this process keeps metrics (:func:`start` ran with a port set)."""
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


def count_throttled(n: int) -> None:
    """``n`` documents answered HTTP 429."""
    if _m is not None and n:
        _m.bulk_throttled.inc(n)


# ---------------------------------------------------------------- consumer lag


@dataclass
class PartitionLag:
    """One partition of a consumer group's topic: committed offset (None: nothing committed), end offset, lag."""

    group: str
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int


class LagReader:
    """Consumer lag read from Kafka itself: each group's committed offsets against the end offsets.

    Keeps one kafka-python admin client and one group-less consumer (it
    commits nothing, so reading moves nobody's offsets); not thread-safe:
    one reader per thread. A partition without a committed offset lags by
    everything still on it (end - beginning offset).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._admin: Any = None
        self._consumer: Any = None

    def _clients(self) -> tuple[Any, Any]:
        if self._admin is None:
            self._admin = kafka.admin(self.settings, client_id="newsstream-lag")
        if self._consumer is None:
            self._consumer = kafka.consumer(self.settings, None, client_id="newsstream-lag")
        return self._admin, self._consumer

    def partitions(self, topic: str) -> list[TopicPartition]:
        """The partitions of ``topic`` (none when it does not exist)."""
        _, consumer = self._clients()
        return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]

    def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        _, consumer = self._clients()
        return dict(consumer.end_offsets(tps)) if tps else {}

    def committed(self, group: str) -> dict[TopicPartition, int]:
        """``{partition: committed offset}`` of consumer group ``group`` (empty when it never committed)."""
        admin, _ = self._clients()
        try:
            found = admin.list_group_offsets({group: None}).get(group) or {}
        except KafkaError as exc:  # an unknown group is not an error here: it has no offsets yet
            log.debug("offsets of group %s: %r", group, exc)
            return {}
        return {tp: meta.offset for tp, meta in found.items() if meta is not None and meta.offset >= 0}

    def lag(self, groups: dict[str, list[str]]) -> list[PartitionLag]:
        """The lag of every partition of each group's topics: ``groups`` is ``{group: [topic, ...]}``."""
        _, consumer = self._clients()
        tps = sorted({tp for topics in groups.values() for t in topics for tp in self.partitions(t)})
        if not tps:
            return []
        end = consumer.end_offsets(tps)
        begin = consumer.beginning_offsets(tps)
        rows = []
        for group, topics in groups.items():
            committed = self.committed(group)
            for tp in tps:
                if tp.topic not in topics:
                    continue
                done = committed.get(tp)
                start = done if done is not None else begin[tp]
                rows.append(PartitionLag(group, tp.topic, tp.partition, done, end[tp], max(0, end[tp] - start)))
        return rows

    def close(self) -> None:
        for client in (self._consumer, self._admin):
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass
        self._admin = self._consumer = None


class _LagCollector:
    """The ``newsstream_consumer_lag`` gauge, read from Kafka when scraped (at most every ``max_age`` s)."""

    def __init__(self, settings: Settings, groups: dict[str, list[str]], family: Any, max_age: float = 5.0) -> None:
        self.reader = LagReader(settings)
        self.groups = groups
        self.family = family  # prometheus_client's GaugeMetricFamily
        self.max_age = max_age
        self.lock = threading.Lock()
        self.rows: list[PartitionLag] = []
        self.read_at = 0.0

    def collect(self) -> Iterator[Any]:
        with self.lock:
            if time.monotonic() - self.read_at > self.max_age:
                try:
                    self.rows = self.reader.lag(self.groups)
                except Exception as exc:  # Kafka away: no lag series until it answers again
                    log.warning("consumer lag: Kafka did not answer: %r", exc)
                    self.reader.close()
                    self.rows = []
                self.read_at = time.monotonic()
            rows = list(self.rows)
        gauge = self.family(
            "newsstream_consumer_lag",
            "Messages of a partition its consumer group has not committed yet (end offset - committed offset).",
            labels=["group", "topic", "partition"],
        )
        for r in rows:
            gauge.add_metric([r.group, r.topic, str(r.partition)], r.lag)
        yield gauge

    def close(self) -> None:
        with self.lock:
            self.reader.close()


# ---------------------------------------------------------------- the endpoint

#: A health check: ``() -> (ok, detail)``.
Check = Callable[[], tuple[bool, str]]


class Endpoint:
    """The worker's HTTP endpoint (a thread): ``/metrics``, ``/healthz``, ``/readyz``.

    ``live`` and ``ready`` map check names to :data:`Check` callables (the
    runner adds them); each ready check's answer is kept ``cache_seconds``,
    as they ask Kafka or Elasticsearch. ``loop`` is the event loop
    ``/healthz`` pings (set once the worker runs).
    """

    def __init__(
        self, port: int, registry: Any, render: Callable[[Any], bytes], content_type: str, cache_seconds: float = 5.0
    ) -> None:
        self.registry = registry
        self.render = render
        self.content_type = content_type
        self.live: dict[str, Check] = {}
        # not ready until the runner gives the real checks (it replaces this one)
        self.ready: dict[str, Check] = {"started": lambda: (False, "starting: the agents do not run yet")}
        self.loop: Any = None
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, tuple[bool, str]]] = {}
        self._lock = threading.Lock()
        self.on_close: list[Callable[[], None]] = []
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._answer(200, endpoint.render(endpoint.registry), endpoint.content_type)
                elif path in ("/healthz", "/readyz"):
                    ok, body = endpoint.health() if path == "/healthz" else endpoint.readiness()
                    self._answer(200 if ok else 503, body, "application/json")
                else:
                    self._answer(404, b"not found: try /metrics, /healthz or /readyz\n", "text/plain")

            def _answer(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # probes every few seconds: not worth a log line each

        self.server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="newsstream-metrics", daemon=True)

    def start(self) -> Endpoint:
        self.thread.start()
        return self

    def _loop_responds(self) -> tuple[bool, str]:
        loop = self.loop
        if loop is None:
            return True, "starting"
        if loop.is_closed():
            return False, "event loop closed"
        done = threading.Event()
        started = time.monotonic()
        try:
            loop.call_soon_threadsafe(done.set)
        except RuntimeError as exc:
            return False, f"event loop: {exc}"
        if not done.wait(LOOP_TIMEOUT):
            return False, f"event loop did not run a callback within {LOOP_TIMEOUT:.0f} s"
        return True, f"event loop answered in {1000 * (time.monotonic() - started):.1f} ms"

    def _run(self, checks: dict[str, Check], cached: bool) -> tuple[bool, bytes]:
        results: dict[str, dict[str, Any]] = {}
        for name, check in checks.items():
            with self._lock:
                hit = self._cache.get(name) if cached else None
            if hit is not None and time.monotonic() - hit[0] < self.cache_seconds:
                ok, detail = hit[1]
            else:
                try:
                    ok, detail = check()
                except Exception as exc:
                    ok, detail = False, f"{exc.__class__.__name__}: {exc}"
                if cached:
                    with self._lock:
                        self._cache[name] = (time.monotonic(), (ok, detail))
            results[name] = {"ok": ok, "detail": detail}
        ok = all(r["ok"] for r in results.values())
        return ok, json.dumps({"ok": ok, "checks": results}).encode() + b"\n"

    def health(self) -> tuple[bool, bytes]:
        """``/healthz``: the event loop responds, and every liveness check passes."""
        return self._run({"event_loop": self._loop_responds, **self.live}, cached=False)

    def readiness(self) -> tuple[bool, bytes]:
        """``/readyz``: every readiness check passes (answers cached ``cache_seconds``)."""
        return self._run(self.ready, cached=True)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        for fn in self.on_close:
            try:
                fn()
            except Exception:
                log.debug("closing the metrics endpoint", exc_info=True)


def start(settings: Settings, stages: Iterable[str], lag_groups: dict[str, list[str]] | None = None) -> Endpoint | None:
    """Keep metrics in this process and, in a worker's first process, serve them; return the endpoint.

    Does nothing (returns None) when ``settings.metrics_port`` is unset.
    ``stages`` are the stage labels whose series start at 0 (built-in stages
    and plugin names); ``lag_groups`` (``{group: [topic, ...]}``) are the
    consumer groups whose lag the endpoint reports.

    A child process of the worker (environment :data:`CHILD_ENV`) writes to
    its parent's directory and serves nothing (returns None); the first
    process sets ``PROMETHEUS_MULTIPROC_DIR`` for its children.

    Raises:
        OSError: the port cannot be bound (in use, say).
    """
    global _m
    if settings.metrics_port is None:
        return None
    child = is_child()
    made: Path | None = None
    if not child:
        given = os.environ.get(MULTIPROC_ENV)
        if given:
            folder = Path(given)
            folder.mkdir(parents=True, exist_ok=True)
            # an earlier run's counts must not add to this one's, nor its heartbeats count
            for stale in [*folder.glob("*.db"), *folder.glob("heartbeat_*")]:
                stale.unlink()
        else:
            folder = made = Path(tempfile.mkdtemp(prefix="newsstream-metrics-"))
        os.environ[MULTIPROC_ENV] = str(folder)
    # prometheus-client chooses its value store (in-process, or the multiprocess
    # files) when it is first imported, from PROMETHEUS_MULTIPROC_DIR: so it is
    # imported here, after the directory is set, and only in a worker with metrics
    import prometheus_client  # noqa: PLC0415
    from prometheus_client import multiprocess  # noqa: PLC0415
    from prometheus_client.core import GaugeMetricFamily  # noqa: PLC0415

    if _m is None:
        _m = _Instruments(prometheus_client, stages)
    if child:
        return None
    registry = prometheus_client.CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    lag = _LagCollector(settings, lag_groups or {}, GaugeMetricFamily)
    registry.register(lag)
    try:
        endpoint = Endpoint(
            settings.metrics_port, registry, prometheus_client.generate_latest, prometheus_client.CONTENT_TYPE_LATEST
        )
    except OSError:
        lag.close()
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise
    endpoint.on_close.append(lag.close)
    if made is not None:
        endpoint.on_close.append(lambda: shutil.rmtree(made, ignore_errors=True))
    return endpoint.start()


def child_env() -> dict[str, str]:
    """Environment for a worker's child process: it writes its metrics to this process's directory."""
    env = {CHILD_ENV: "1"}
    if os.environ.get(MULTIPROC_ENV):
        env[MULTIPROC_ENV] = os.environ[MULTIPROC_ENV]
    return env


def _heartbeat_file(pid: int) -> Path | None:
    folder = os.environ.get(MULTIPROC_ENV)
    return Path(folder) / f"heartbeat_{pid}" if folder else None


def beat() -> None:
    """Touch this process's heartbeat file (a worker's child process calls it from its event loop)."""
    path = _heartbeat_file(os.getpid())
    if _m is not None and path is not None:
        path.touch()


def silent_for(pid: int) -> float | None:
    """Seconds since child ``pid`` last beat; None before its first beat (it is still starting)."""
    path = _heartbeat_file(pid)
    try:
        return time.time() - path.stat().st_mtime if path is not None else None
    except FileNotFoundError:
        return None


def is_child() -> bool:
    """True in a worker's child process (it writes metrics and beats; its parent serves them)."""
    return os.environ.get(CHILD_ENV) == "1"


def child_exited(pid: int) -> None:
    """Forget the live gauges of a child process that exited (its counters stay counted)."""
    folder = os.environ.get(MULTIPROC_ENV)
    if _m is None or not folder:
        return
    from prometheus_client import multiprocess  # noqa: PLC0415  (see start())

    multiprocess.mark_process_dead(pid, folder)
    path = _heartbeat_file(pid)
    if path is not None:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------- logs

#: Fields a log call may give (``extra={...}``) that the JSON lines carry.
LOG_FIELDS = ("stage", "article_id", "topic", "partition", "offset")

#: The stage of the batch this task is handling (set by the delivery layer), for the log lines.
log_stage: contextvars.ContextVar[str | None] = contextvars.ContextVar("newsstream_log_stage", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601 with ms), ``level``, ``logger``, ``message``,
    the :data:`LOG_FIELDS` a record has (``stage`` also from :data:`log_stage`), ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in LOG_FIELDS:
            value = getattr(record, name, None)
            if value is None and name == "stage":
                value = log_stage.get()
            if value is not None:
                obj[name] = value
        if record.exc_info:
            obj["exception"] = self.formatException(record.exc_info)
        return json.dumps(obj, ensure_ascii=False, default=str)


PLAIN_FORMAT = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"


def configure_logging(settings: Settings, loglevel: str) -> None:
    """Set up the root logger in ``settings.log_format`` (plain or json) on stdout."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(loglevel.upper())


def faust_logging_config(settings: Settings) -> dict[str, Any] | None:
    """The ``logging_config`` a faust worker needs for ``settings.log_format`` (None: faust's own, plain).

    faust's worker sets up logging again when it starts (mode's
    ``setup_logging``, a handler named ``default``); this replaces that
    handler by one writing :class:`JsonFormatter` lines to stdout.
    """
    if settings.log_format != "json":
        return None
    return {
        "merge": True,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    }
