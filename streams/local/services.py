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

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from streams.settings import Settings

KAFKA_VERSION = "4.1.1"
ES_VERSION = "9.5.0"
ES_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
ES_USER = "newsstream"

DEPLOY_LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local"


class ServiceError(RuntimeError):
    """A local service cannot be fetched, started or reached."""


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


def kafka_healthy(bootstrap: str, timeout: float = 5.0) -> bool:
    """Return True when a Kafka broker at ``bootstrap`` answers a metadata request."""
    try:
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout * 1000),
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
        return True
    except Exception:  # any failure means "not healthy yet"
        return False


def elasticsearch_healthy(url: str, timeout: float = 5.0) -> bool:
    """Return True when the Elasticsearch cluster at ``url`` is yellow or green."""
    try:
        with urllib.request.urlopen(
            f"{url.rstrip('/')}/_cluster/health?wait_for_status=yellow&timeout={int(timeout)}s",
            timeout=timeout + 2,
        ) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


# ---------------------------------------------------------------- tools


def _java_version(java: Path) -> int:
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except OSError:
        return 0
    # 'openjdk version "17.0.15" 2025-04-15' / 'openjdk version "25" ...'
    for line in out.splitlines():
        if '"' in line:
            ver = line.split('"')[1]
            head = ver.split(".")[0]
            if head == "1":  # 1.8.0_x
                return int(ver.split(".")[1])
            return int("".join(ch for ch in head if ch.isdigit()) or 0)
    return 0


def find_java(min_version: int, env_var: str) -> Path:
    """Return a ``java`` binary of at least ``min_version``.

    Looks in ``$env_var`` (a JDK home), then ``$JAVA_HOME``, ``java`` on the
    PATH and every JDK under ``/usr/lib/jvm``, newest last.

    Raises:
        ServiceError: no suitable JDK; the message says what to install.
    """
    candidates: list[Path] = []
    for var in (env_var, "JAVA_HOME"):
        if os.environ.get(var):
            candidates.append(Path(os.environ[var]) / "bin" / "java")
    if shutil.which("java"):
        candidates.append(Path(shutil.which("java")))  # type: ignore[arg-type]
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        candidates += sorted(p / "bin" / "java" for p in jvm.iterdir())
    for java in candidates:
        if java.exists() and _java_version(java) >= min_version:
            return java
    raise ServiceError(
        f"no Java {min_version} or newer found (looked in ${env_var}, $JAVA_HOME, PATH, /usr/lib/jvm). "
        f"Install a JDK {min_version}+ (for example Debian's openjdk-{max(min_version, 17)}-jdk-headless "
        f"or Temurin) and set {env_var}=/path/to/jdk."
    )


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise ServiceError(
            "Maven (mvn) is not installed; newsstream fetches Kafka and Elasticsearch with it. "
            "Install it (Debian/Ubuntu: apt-get install maven) and try again."
        )
    return mvn


def _run_mvn(args: list[str], log: Path) -> None:
    cmd = [_mvn(), "-B", "-q", "-f", str(DEPLOY_LOCAL / "pom.xml"), *args]
    with open(log, "ab") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise ServiceError(f"Maven failed ({' '.join(args[:2])}); see {log}")


# ---------------------------------------------------------------- fetch


def fetch(settings: Settings, echo=print) -> tuple[Path, Path]:
    """Fetch Kafka's jars and Elasticsearch's distribution, once, into the cache.

    Returns ``(kafka_libs_dir, elasticsearch_home)``. Raises :class:`ServiceError`.
    """
    base = settings.services_dir
    (base / "logs").mkdir(parents=True, exist_ok=True)
    log = base / "logs" / "maven.log"
    libs = base / f"kafka-{KAFKA_VERSION}" / "libs"
    if not (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        echo(f"fetching Apache Kafka {KAFKA_VERSION} from Maven Central ...")
        tmp = libs.with_name("libs.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        _run_mvn(
            [
                "dependency:copy-dependencies",
                f"-Dkafka.version={KAFKA_VERSION}",
                f"-DoutputDirectory={tmp}",
                "-DincludeScope=runtime",
            ],
            log,
        )
        tmp.rename(libs)
    es_home = base / f"elasticsearch-{ES_VERSION}"
    if not (es_home / "lib").is_dir():
        echo(f"fetching Elasticsearch {ES_VERSION} from Maven Central ...")
        dl = base / "downloads"
        dl.mkdir(exist_ok=True)
        _run_mvn(["dependency:copy", f"-Dartifact={ES_ARTIFACT}", f"-DoutputDirectory={dl}"], log)
        zip_path = dl / f"elasticsearch-{ES_VERSION}.zip"
        tmp = base / "es.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
            # zipfile drops the exec bits: put them back from the archive
            for info in zf.infolist():
                mode = info.external_attr >> 16
                if mode:
                    os.chmod(tmp / info.filename, mode & 0o7777)
        (tmp / f"elasticsearch-{ES_VERSION}").rename(es_home)
        shutil.rmtree(tmp, ignore_errors=True)
    return libs, es_home


# ---------------------------------------------------------------- processes


def _pidfile(settings: Settings, name: str) -> Path:
    return settings.services_dir / "run" / f"{name}.pid"


def _read_pid(settings: Settings, name: str) -> int | None:
    try:
        pid = int(_pidfile(settings, name).read_text().strip())
    except (OSError, ValueError):
        return None
    try:  # reap it if it is our exited child, or it lingers as a zombie
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return None
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def _spawn(settings: Settings, name: str, cmd: list[str], env: dict, cwd: Path, user: str | None = None) -> int:
    (settings.services_dir / "run").mkdir(parents=True, exist_ok=True)
    log = settings.services_dir / "logs" / f"{name}.log"
    kwargs: dict = {}
    if user:
        pw = pwd.getpwnam(user)
        kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
            **kwargs,
        )
    _pidfile(settings, name).write_text(str(proc.pid))
    return proc.pid


def _ensure_es_user() -> str:
    try:
        pwd.getpwnam(ES_USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if not useradd:
            raise ServiceError(
                f"Elasticsearch refuses to run as root and there is no user {ES_USER!r}; "
                "run newsstream as an ordinary user, or create that user."
            )
        subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ES_USER], check=True)
    return ES_USER


def _chown_tree(path: Path, user: str) -> None:
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for f in files:
            os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid, follow_symlinks=False)


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
        import base64

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
    return _spawn(settings, "kafka", cmd, env, settings.services_dir)


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
        user = _ensure_es_user()
        for d in (es_home, data, logs, tmp):
            _chown_tree(d, user)
        os.chmod(settings.services_dir, 0o755)
    return _spawn(settings, "elasticsearch", cmd, env, es_home, user=user)


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


def up(settings: Settings, echo=print, es_extra: dict[str, str] | None = None) -> dict[str, bool]:
    """Fetch (once), start and wait for both services; reuse ones already healthy.

    Returns ``{"kafka": started_by_us, "elasticsearch": started_by_us}``.
    Raises :class:`ServiceError` when a service cannot start within
    ``settings.services_timeout_seconds``.
    """
    started = {"kafka": False, "elasticsearch": False}
    kafka_ok = kafka_healthy(settings.kafka_bootstrap, timeout=3)
    es_ok = elasticsearch_healthy(settings.elasticsearch_url, timeout=2)
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
        ("kafka", "Kafka", kafka_ok, settings.kafka_bootstrap, lambda: kafka_healthy(settings.kafka_bootstrap)),
        (
            "elasticsearch",
            "Elasticsearch",
            es_ok,
            settings.elasticsearch_url,
            lambda: elasticsearch_healthy(settings.elasticsearch_url),
        ),
    ]
    for name, title, was_ok, address, healthy in checks:
        if was_ok:
            continue
        _wait(
            healthy,
            title,
            lambda name=name: _read_pid(settings, name) if started[name] else 0,
            logs / f"{name}.log",
            settings.services_timeout_seconds,
        )
        echo(f"{title} is up on {address}")
    return started


def stop(settings: Settings, name: str, timeout: float = 60.0) -> bool:
    """Stop one service started by :func:`up` (SIGTERM, then SIGKILL). Returns True if it ran."""
    pid = _read_pid(settings, name)
    if pid is None:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _read_pid(settings, name) is not None:
        time.sleep(0.5)
    if _read_pid(settings, name) is not None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        time.sleep(1)
    _pidfile(settings, name).unlink(missing_ok=True)
    return True


def down(settings: Settings, echo=print) -> None:
    """Stop both services if newsstream started them."""
    for name in ("elasticsearch", "kafka"):
        echo(f"{name}: {'stopped' if stop(settings, name) else 'not running (started by newsstream)'}")


def status(settings: Settings) -> list[ServiceState]:
    """Report each service: address, health and pid (when newsstream started it)."""
    return [
        ServiceState(
            "kafka",
            settings.kafka_bootstrap,
            kafka_healthy(settings.kafka_bootstrap, timeout=3),
            _read_pid(settings, "kafka"),
        ),
        ServiceState(
            "elasticsearch",
            settings.elasticsearch_url,
            elasticsearch_healthy(settings.elasticsearch_url, timeout=2),
            _read_pid(settings, "elasticsearch"),
        ),
    ]


if __name__ == "__main__":  # pragma: no cover - convenience for debugging
    up(Settings())
    sys.exit(0)
