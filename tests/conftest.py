"""Shared fixtures: the real local Kafka and Elasticsearch, and isolated workers.

``services`` starts Kafka and Elasticsearch once per test session with
``newsstream services up`` (or uses the ones already running) and stops, at
the end, only what it started. Each test that runs a worker gets its own
topics, consumer group and index alias (``isolated`` settings), so tests do
not see each other's messages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import NotFoundError
from kafka import TopicPartition

from indexers.elasticsearch.client import sync_client
from streams import kafka
from streams.local import services as svc
from streams.settings import Settings
from streams.topics import namespace_env

ROOT = Path(__file__).resolve().parents[1]
RFI = ROOT / "examples" / "articles" / "rfi-2023-02-28-blinken-kazakhstan.txt"


def run_cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``newsstream ARGS`` as a user would (``python -m streams.cli``), with ``env`` on top of
    this environment; return the finished process with its text stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; return it, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def pytest_collection_modifyitems(config, items):
    """Run the ``cluster`` tests last: the cluster starts when the first of them needs it and, idle, still
    costs about 0.1 CPU core (measured: 5.6 CPU-s a minute), so the other tests run without it."""
    items.sort(key=lambda item: item.get_closest_marker("cluster") is not None)


@pytest.fixture(scope="session")
def services():
    """Kafka and Elasticsearch on loopback, started once per session; yields base Settings."""
    settings = Settings()
    try:
        started = svc.up(settings, echo=lambda m: print(f"[services] {m}", file=sys.stderr))
    except svc.ServiceError as exc:
        pytest.fail(f"local services could not start: {exc}")
    yield settings
    if started["kafka"] and started["elasticsearch"]:
        svc.down(settings, echo=lambda m: None)  # all ours, with what secure_services added
    else:
        for name in ("kafka", "elasticsearch"):
            if started.get(name):
                svc.stop(settings, name)


@pytest.fixture(scope="session")
def secure_services(services):
    """The same services with their secure endpoints added (``services up --secure``): Kafka SASL_SSL and
    SSL listeners, nginx's HTTPS with credentials in front of Elasticsearch. Yields ``(settings, credentials)``.

    Services that were running already keep the secure endpoints after the session."""
    try:
        svc.up(services, echo=lambda m: print(f"[services] {m}", file=sys.stderr), secure=True)
        creds = svc.secure_credentials(services)
    except svc.ServiceError as exc:
        pytest.fail(f"secure local services could not start: {exc}")
    return services, creds


@pytest.fixture(scope="session")
def cluster_services():
    """A three-broker KRaft cluster and a two-node Elasticsearch cluster, secure endpoints included, beside
    the single-node services: base ports 50 above theirs, folder SERVICES_DIR/cluster (see
    ``streams.local.services.sibling``). Started once per session; yields their Settings."""

    def echo(m: str) -> None:
        print(f"[cluster] {m}", file=sys.stderr)

    settings = svc.sibling(Settings(), "cluster", 50, echo=echo)
    t0 = time.monotonic()
    try:
        started = svc.up(settings, echo=echo, kafka_brokers=3, elasticsearch_nodes=2, secure=True)
    except svc.ServiceError as exc:
        svc.down(settings, echo=lambda m: None)  # what did start would idle through the rest of the session
        pytest.fail(f"the local cluster could not start: {exc}")
    echo(f"cluster ready in {time.monotonic() - t0:.0f} s")
    yield settings
    if any(started.values()):
        svc.down(settings, echo=lambda m: None)


def isolated_env(tag: str, **extra: str) -> dict[str, str]:
    """Return NEWSSTREAM_* variables for topics, group and alias unique to one test."""
    uid = f"t{tag}{uuid.uuid4().hex[:8]}"
    env = {
        **namespace_env(uid),
        "NEWSSTREAM_BULK_MAX_SECONDS": "0.5",
        "NEWSSTREAM_CONSUMER_SESSION_TIMEOUT_SECONDS": "10",
        "WATCHLIST_ALERT_TOPIC": f"{uid}.alerts",
    }
    env.update(extra)
    return env


def settings_from(env: dict[str, str]) -> Settings:
    """Build Settings as a worker started with ``env`` would."""
    # strings, as in the environment: pydantic-settings parses them
    fields: dict[str, Any] = {k[len("NEWSSTREAM_") :].lower(): v for k, v in env.items() if k.startswith("NEWSSTREAM_")}
    return Settings(**fields)


class Worker:
    """A ``newsstream worker`` child process with its own log file."""

    def __init__(
        self, env: dict[str, str], log: Path, only: list[str] | None = None, loglevel: str | None = None
    ) -> None:
        self.env = env
        self.log = log
        self.only = only
        self.loglevel = loglevel
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        cmd = [sys.executable, "-m", "streams.cli", "worker"]
        for name in self.only or []:
            cmd += ["--only", name]
        if self.loglevel:
            cmd += ["--loglevel", self.loglevel]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(ROOT), **self.env},
                cwd=ROOT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 60) -> None:
        if self.proc is not None and self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


@pytest.fixture
def pipeline_env(services, tmp_path, request):
    """Isolated settings for one test; deletes its index, template and topics afterwards."""
    env = isolated_env(request.node.name[:12].replace("_", "").lower())
    workers: list[Worker] = []

    def start(only: list[str] | None = None, loglevel: str | None = None, **extra: str) -> Worker:
        w = Worker({**env, **extra}, tmp_path / f"worker-{len(workers)}.log", only, loglevel).start()
        workers.append(w)
        return w

    yield env, settings_from(env), start
    for w in workers:
        w.stop()
    _cleanup(settings_from(env))


def _cleanup(settings: Settings) -> None:
    es = sync_client(settings)
    try:
        es.indices.delete(index=f"{settings.index_alias}-v*", ignore_unavailable=True, allow_no_indices=True)
        es.options(ignore_status=404).indices.delete_index_template(name=settings.index_alias)
    except Exception:
        pass
    try:
        admin = kafka.admin(settings)
        topics = [settings.topic_raw, settings.topic_parsed, settings.topic_enriched, settings.topic_dlq]
        existing = set(admin.list_topics())
        # faust's own topics of the test's consumer groups (<app_id>-__assignor-__leader, ...)
        # and the plugin's alert topic (<app_id>.alerts, see isolated_env)
        topics += [t for t in existing if t.startswith((f"{settings.app_id}-", f"{settings.app_id}."))]
        admin.delete_topics(sorted({t for t in topics if t in existing}))
        admin.close()
    except Exception:
        pass


def indexed_docs(settings: Settings, size: int = 10000) -> list[dict]:
    """Return every document under the test's alias (after a refresh), as hits."""
    es = sync_client(settings)
    try:
        es.indices.refresh(index=settings.index_alias)
        return es.search(index=settings.index_alias, size=size, query={"match_all": {}})["hits"]["hits"]
    except NotFoundError:
        return []


def text_article(title: str, paragraphs: list[str]) -> bytes:
    """A small plain-text article as users publish them: title line, then paragraphs."""
    return ("\n\n".join([title, *paragraphs]) + "\n").encode()


def read_topic(settings: Settings, topic: str, timeout_s: float = 5.0) -> list:
    """Return every message now on ``topic`` (group-less consumer, from the beginning)."""
    consumer = kafka.consumer(settings, None)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for msgs in consumer.poll(timeout_ms=500).values():
                out.extend(msgs)
        return out
    finally:
        consumer.close()
