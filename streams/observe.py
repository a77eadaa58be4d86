"""Seeing a worker run: the metrics endpoint, health probes, consumer lag, heartbeats.

The metrics themselves are :mod:`streams.metrics` (what each stage records);
this module serves them, adds the consumer lag, and answers the probes.

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
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from streams import lag, metrics
from streams.settings import Settings

log = logging.getLogger(__name__)

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


class _LagCollector:
    """The ``newsstream_consumer_lag`` gauge, read from Kafka when scraped (at most every ``max_age`` s)."""

    def __init__(self, settings: Settings, groups: dict[str, list[str]], family: Any, max_age: float = 5.0) -> None:
        self.reader = lag.LagReader(settings)
        self.groups = groups
        self.family = family  # prometheus_client's GaugeMetricFamily
        self.max_age = max_age
        self.lock = threading.Lock()
        self.rows: list[lag.PartitionLag] = []
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
    metrics.create(stages)
    import prometheus_client  # noqa: PLC0415
    from prometheus_client import multiprocess  # noqa: PLC0415
    from prometheus_client.core import GaugeMetricFamily  # noqa: PLC0415

    if child:
        return None
    registry = prometheus_client.CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    collector = _LagCollector(settings, lag_groups or {}, GaugeMetricFamily)
    registry.register(collector)
    try:
        endpoint = Endpoint(
            settings.metrics_port, registry, prometheus_client.generate_latest, prometheus_client.CONTENT_TYPE_LATEST
        )
    except OSError:
        collector.close()
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise
    endpoint.on_close.append(collector.close)
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
    if metrics.enabled() and path is not None:
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
    if not metrics.enabled() or not folder:
        return
    from prometheus_client import multiprocess  # noqa: PLC0415  (see start())

    multiprocess.mark_process_dead(pid, folder)
    path = _heartbeat_file(pid)
    if path is not None:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------- logs

#: Fields a log call may give (``extra={...}``) that the JSON lines carry.
