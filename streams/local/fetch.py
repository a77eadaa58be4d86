"""Fetch Kafka and Elasticsearch from Maven Central, once, and find a JDK to run them.

* Kafka :data:`KAFKA_VERSION` (``org.apache.kafka:kafka_2.13`` and its
  dependencies, see ``deploy/local/pom.xml``). Runs on Java 17 or newer.
* Elasticsearch :data:`ES_VERSION`, the minimal distribution Elastic
  publishes to Maven Central as
  ``org.elasticsearch.distribution.integ-test-zip:elasticsearch`` (no optional
  modules such as ``analysis-common`` or security; the index template adapts,
  and ``--secure`` puts nginx in front). Needs Java 21 or newer.

Downloads are cached in ``~/.m2`` and unpacked into ``settings.services_dir``.
:class:`ServiceError` is importable from here too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

from streams.local.exceptions import ServiceError
from streams.settings import Settings

KAFKA_VERSION = "4.1.1"
ES_VERSION = "9.5.0"
ES_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"

__all__ = ["DEPLOY_LOCAL", "Echo", "ES_ARTIFACT", "ES_VERSION", "KAFKA_VERSION", "ServiceError", "fetch", "find_java"]

#: Where progress lines go: ``print``, a rich console's ``print``, or a test's collector.
Echo = Callable[[str], object]

DEPLOY_LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local"


def _java_version(java: Path) -> int:
    try:
        out = subprocess.run([str(java), "-version"], check=False, capture_output=True, text=True, timeout=30).stderr
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
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path))
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
        proc = subprocess.run(cmd, check=False, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise ServiceError(f"Maven failed ({' '.join(args[:2])}); see {log}")


def fetch(settings: Settings, echo: Echo = print) -> tuple[Path, Path]:
    """Fetch Kafka's jars and Elasticsearch's distribution, once, into the services folder.

    Returns ``(kafka_libs_dir, elasticsearch_home)``. Raises :class:`ServiceError`.
    """
    base = settings.services_dir
    (base / "logs").mkdir(parents=True, exist_ok=True)
    log = base / "logs" / "maven.log"
    libs = base / f"kafka-{KAFKA_VERSION}" / "libs"
    if not (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        echo(f"fetching Apache Kafka {KAFKA_VERSION} from Maven Central ...")
        libs.parent.mkdir(parents=True, exist_ok=True)
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
        if es_home.is_symlink():  # a sibling's, whose target is gone
            es_home.unlink()
        (tmp / f"elasticsearch-{ES_VERSION}").rename(es_home)
        shutil.rmtree(tmp, ignore_errors=True)
    return libs, es_home
