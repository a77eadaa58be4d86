"""Local Apache Kafka and Elasticsearch, fetched from Maven Central, run on the JDK.

``newsstream services up|down|status`` calls :func:`up`, :func:`down` and
:func:`status`. No Docker is needed: Maven fetches the pinned artifacts once
into ``settings.services_dir`` (downloads are cached there and in ``~/.m2``),
and both servers run as child processes of nobody, detached, with small heaps.

* Kafka :data:`KAFKA_VERSION` (``org.apache.kafka:kafka_2.13`` and its
  dependencies, see ``deploy/local/pom.xml``), one KRaft node that is broker
  and controller, on 127.0.0.1:9092 (controller 9093); storage formatted once.
  Runs on Java 17 or newer.
* Elasticsearch :data:`ES_VERSION`, the minimal distribution Elastic
  publishes to Maven Central as
  ``org.elasticsearch.distribution.integ-test-zip:elasticsearch`` (no optional
  modules such as ``analysis-common``; the index template adapts), single
  node, security off, on 127.0.0.1:9200. Elasticsearch 9 needs Java 21 or
  newer and refuses to run as root: under root it runs as the system user
  ``newsstream``, created if missing.

Errors: :class:`ServiceError` with a message that says what to install or
where the log is.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from indexers.elasticsearch import client as es_client
from streams import kafka
from streams.local.fetch import DEPLOY_LOCAL, ES_VERSION, KAFKA_VERSION, ServiceError, fetch, find_java
from streams.local.processes import chown_tree, ensure_es_user, read_pid, spawn, stop
from streams.settings import Settings

__all__ = ["ES_VERSION", "KAFKA_VERSION", "ServiceError", "ServiceState", "down", "status", "stop", "up"]

Echo = Callable[[str], object]


@dataclass
class ServiceState:
    """What :func:`status` reports of one service."""

    name: str
    address: str
    healthy: bool
    pid: int | None
    detail: str = ""


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def _es_address(settings: Settings) -> tuple[str, int]:
    url = settings.elasticsearch_url.split("://", 1)[-1].rstrip("/")
    return _host_port(url)


# ---------------------------------------------------------------- health checks


def kafka_healthy(settings: Settings, timeout: float = 5.0) -> bool:
    """Return True when a Kafka broker of ``settings`` answers a metadata request."""
    return kafka.healthy(settings, timeout)


def elasticsearch_healthy(settings: Settings, timeout: float = 5.0) -> bool:
    """Return True when the Elasticsearch cluster of ``settings`` is yellow or green."""
    return es_client.healthy(settings, timeout)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


# ---------------------------------------------------------------- tools


def start_kafka(settings: Settings, libs: Path) -> int:
    """Format the KRaft storage once and start the broker. Returns its pid."""
    java = find_java(17, "NEWSSTREAM_KAFKA_JAVA_HOME")
    host, port = _host_port(settings.kafka_bootstrap.split(",")[0])
    ctrl = port + 1
    data = settings.services_dir / "kafka-data"
    conf = settings.services_dir / "kafka.properties"
    conf.write_text(
        "\n".join(
            [
                "# written by newsstream services up",
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{host}:{ctrl}",
                f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctrl}",
                f"advertised.listeners=PLAINTEXT://{host}:{port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={data}",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=4",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                f"num.partitions={settings.partitions}",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                "log.retention.hours=168",
                "message.max.bytes=16777216",
                "replica.fetch.max.bytes=16777216",
                "",
            ]
        )
    )
    cp = f"{libs}/*"
    env = {**os.environ, "LOG_DIR": str(settings.services_dir / "logs")}
    if not (data / "meta.properties").exists():
        cluster_id = uuid.uuid4().bytes
        cid = base64.urlsafe_b64encode(cluster_id).decode().rstrip("=")
        proc = subprocess.run(
            [str(java), "-cp", cp, "kafka.tools.StorageTool", "format", "-t", cid, "-c", str(conf)],
            capture_output=True,
            text=True,
            env=env,
        )
        if proc.returncode != 0:
            raise ServiceError(f"formatting Kafka storage failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    cmd = [
        str(java),
        f"-Xms{settings.kafka_heap}",
        f"-Xmx{settings.kafka_heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={DEPLOY_LOCAL / 'kafka-log4j2.yaml'}",
        "-cp",
        cp,
        "kafka.Kafka",
        str(conf),
    ]
    return spawn(settings, "kafka", cmd, env, settings.services_dir)


def start_elasticsearch(settings: Settings, es_home: Path, extra: dict[str, str] | None = None) -> int:
    """Configure and start the single Elasticsearch node. Returns its pid.

    ``extra`` adds node settings (``-E name=value``), for example a small
    ``thread_pool.write.queue_size`` in the back-pressure tests.
    """
    java = find_java(21, "NEWSSTREAM_ES_JAVA_HOME")
    host, port = _es_address(settings)
    data = settings.services_dir / "es-data"
    logs = settings.services_dir / "logs" / "elasticsearch"
    tmp = settings.services_dir / "es-tmp"
    for d in (data, logs, tmp):
        d.mkdir(parents=True, exist_ok=True)
    (es_home / "config" / "elasticsearch.yml").write_text(
        "\n".join(
            [
                "# written by newsstream services up",
                "cluster.name: newsstream",
                "node.name: newsstream-1",
                "discovery.type: single-node",
                f"network.host: {host}",
                f"http.port: {port}",
                "transport.port: 9300-9399",
                f"path.data: {data}",
                f"path.logs: {logs}",
                "xpack.security.enabled: false",
                "cluster.routing.allocation.disk.threshold_enabled: false",
                "action.destructive_requires_name: false",
                "",
            ]
        )
    )
    env = {
        **os.environ,
        "ES_JAVA_HOME": str(java.parent.parent),
        "ES_JAVA_OPTS": f"-Xms{settings.elasticsearch_heap} -Xmx{settings.elasticsearch_heap} -XX:-AlwaysPreTouch",
        "ES_TMPDIR": str(tmp),
        "ES_PATH_CONF": str(es_home / "config"),
    }
    env.pop("JAVA_HOME", None)
    cmd = [str(es_home / "bin" / "elasticsearch")]
    for key, value in (extra or {}).items():
        cmd += ["-E", f"{key}={value}"]
    user = None
    if os.geteuid() == 0:
        user = ensure_es_user()
        for d in (es_home, data, logs, tmp):
            chown_tree(d, user)
        os.chmod(settings.services_dir, 0o755)
    return spawn(settings, "elasticsearch", cmd, env, es_home, user=user)


def _wait(check, what: str, pid_of, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if pid_of() is None:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise ServiceError(f"{what} exited while starting; log {log}:\n{tail}")
        time.sleep(1)
    raise ServiceError(f"{what} not healthy after {timeout:.0f} s; see {log}")


def up(settings: Settings, echo: Echo = print, es_extra: dict[str, str] | None = None) -> dict[str, bool]:
    """Fetch (once), start and wait for both services; reuse ones already healthy.

    Returns ``{"kafka": started_by_us, "elasticsearch": started_by_us}``.
    Raises :class:`ServiceError` when a service cannot start within
    ``settings.services_timeout_seconds``.
    """
    started = {"kafka": False, "elasticsearch": False}
    kafka_ok = kafka_healthy(settings, timeout=3)
    es_ok = elasticsearch_healthy(settings, timeout=2)
    if kafka_ok and es_ok:
        echo("Kafka and Elasticsearch are already running")
        return started
    libs, es_home = fetch(settings, echo)
    logs = settings.services_dir / "logs"
    if not es_ok:
        if _port_open(*_es_address(settings)):
            echo("waiting for the Elasticsearch already on the port ...")
        else:
            echo(f"starting Elasticsearch {ES_VERSION} on {settings.elasticsearch_url} ...")
            start_elasticsearch(settings, es_home, es_extra)
            started["elasticsearch"] = True
    if not kafka_ok:
        if _port_open(*_host_port(settings.kafka_bootstrap.split(",")[0])):
            echo("waiting for the Kafka broker already on the port ...")
        else:
            echo(f"starting Apache Kafka {KAFKA_VERSION} on {settings.kafka_bootstrap} ...")
            start_kafka(settings, libs)
            started["kafka"] = True
    checks = [
        ("kafka", "Kafka", kafka_ok, settings.kafka_bootstrap, lambda: kafka_healthy(settings)),
        (
            "elasticsearch",
            "Elasticsearch",
            es_ok,
            settings.elasticsearch_url,
            lambda: elasticsearch_healthy(settings),
        ),
    ]
    for name, title, was_ok, address, healthy in checks:
        if was_ok:
            continue
        _wait(
            healthy,
            title,
            lambda name=name: read_pid(settings, name) if started[name] else 0,
            logs / f"{name}.log",
            settings.services_timeout_seconds,
        )
        echo(f"{title} is up on {address}")
    return started


def down(settings: Settings, echo: Echo = print) -> None:
    """Stop both services if newsstream started them."""
    for name in ("elasticsearch", "kafka"):
        echo(f"{name}: {'stopped' if stop(settings, name) else 'not running (started by newsstream)'}")


def status(settings: Settings) -> list[ServiceState]:
    """Report each service: address, health and pid (when newsstream started it)."""
    return [
        ServiceState(
            "kafka",
            settings.kafka_bootstrap,
            kafka_healthy(settings, timeout=3),
            read_pid(settings, "kafka"),
        ),
        ServiceState(
            "elasticsearch",
            settings.elasticsearch_url,
            elasticsearch_healthy(settings, timeout=2),
            read_pid(settings, "elasticsearch"),
        ),
    ]
