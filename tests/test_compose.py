"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The compose file is parsed with PyYAML and checked against the code it runs:
the worker's environment must be settings the app reads, the images must be
the versions the local services use, the Kafka listeners must be reachable
where they are advertised. When the ``docker compose`` plugin is installed,
``docker compose config -q`` validates the file against the Compose schema too
(it needs no engine).
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from indexers.kibana import DEFAULT_PATH
from streams.local import services
from streams.settings import Settings

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to parse docker-compose.yml")

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SERVICES = {"kafka", "elasticsearch", "kibana", "kibana-setup", "worker"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def svc(compose) -> dict:
    return compose["services"]


def _env(service: dict) -> dict[str, str]:
    """A service's environment as a dict, from either the mapping or the ``KEY=VALUE`` list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _tag(image: str) -> str:
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag, f"image {image!r} has no tag"
    return tag


def _depends(service: dict) -> dict[str, str]:
    """``{service: condition}``; the list form means ``service_started``."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def _volume_mounts(service: dict) -> list[tuple[str, str]]:
    """``[(source, target)]`` of a service's volumes, short or long syntax."""
    out = []
    for vol in service.get("volumes") or []:
        if isinstance(vol, dict):
            out.append((vol.get("source", ""), vol["target"]))
        else:
            parts = vol.split(":")
            out.append((parts[0], parts[1]) if len(parts) > 1 else ("", parts[0]))
    return out


def _command_text(service: dict) -> str:
    parts = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if isinstance(value, list):
            parts.extend(value)
        elif value:
            parts.append(value)
    return " ".join(parts)


# ------------------------------------------------------------------ services


def test_the_five_services_exist(svc):
    assert set(svc) >= SERVICES, sorted(SERVICES - set(svc))


@pytest.mark.parametrize("name", ["kafka", "elasticsearch", "kibana"])
def test_servers_have_healthchecks(svc, name):
    check = svc[name].get("healthcheck")
    assert check and check.get("test"), f"{name} has no healthcheck"
    assert not check.get("disable"), name


def test_kafka_healthcheck_uses_the_kafka_tools(svc):
    test = " ".join(svc["kafka"]["healthcheck"]["test"])
    assert "/opt/kafka/bin/" in test and "--bootstrap-server localhost:9092" in test


def test_worker_waits_for_healthy_kafka_and_elasticsearch(svc):
    deps = _depends(svc["worker"])
    assert deps.get("kafka") == "service_healthy"
    assert deps.get("elasticsearch") == "service_healthy"


def test_kibana_waits_for_elasticsearch_and_setup_for_kibana(svc):
    assert _depends(svc["kibana"]).get("elasticsearch") == "service_healthy"
    assert _depends(svc["kibana-setup"]).get("kibana") == "service_healthy"


def test_worker_environment_names_are_settings_fields(svc):
    env = _env(svc["worker"])
    assert env, "worker has no environment"
    known = {f"NEWSSTREAM_{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(set(env) - known)
    assert not unknown, f"the app reads no such settings: {unknown}"
    assert {"NEWSSTREAM_KAFKA_BOOTSTRAP", "NEWSSTREAM_ELASTICSEARCH_URL"} <= set(env)


def test_worker_environment_is_valid_settings_pointing_at_the_services(svc, monkeypatch):
    for key, value in _env(svc["worker"]).items():
        monkeypatch.setenv(key, value)
    settings = Settings()  # raises if a value does not validate
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.elasticsearch_url == "http://elasticsearch:9200"


def test_worker_runs_the_worker_command_from_the_dockerfile(svc):
    worker = svc["worker"]
    build = worker["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (COMPOSE.parent / context / dockerfile).resolve() == DOCKERFILE
    assert worker.get("command") in (None, ["worker"], "worker")


def test_image_versions_follow_the_local_services(svc):
    assert _tag(svc["elasticsearch"]["image"]) == services.ES_VERSION
    assert _tag(svc["kafka"]["image"]) == services.KAFKA_VERSION
    # Kibana only talks to the Elasticsearch of its own version.
    assert _tag(svc["kibana"]["image"]) == services.ES_VERSION
    assert _tag(svc["kibana-setup"]["image"]) == services.ES_VERSION


def test_elasticsearch_is_single_node_without_security(svc):
    env = _env(svc["elasticsearch"])
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "false"
    assert "-Xmx1g" in env["ES_JAVA_OPTS"]


def test_kafka_listeners_are_reachable_where_advertised(svc):
    kafka = svc["kafka"]
    env = _env(kafka)

    def listeners(value: str) -> dict[str, tuple[str, int]]:
        out = {}
        for item in value.split(","):
            name, _, hostport = item.partition("://")
            host, _, port = hostport.rpartition(":")
            out[name] = (host, int(port))
        return out

    bound = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    published = {}
    for mapping in kafka.get("ports", []):
        parts = str(mapping).split(":")
        published[int(parts[-2])] = int(parts[-1])  # host port -> container port
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))

    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] not in advertised
    for name, (host, port) in advertised.items():
        assert name in bound and name in protocols, name
        if host == "kafka":  # inside the compose network: straight to the listener
            assert bound[name][1] == port, name
        else:  # from the host: through a published port onto that listener
            assert published.get(port) == bound[name][1], f"{name}: {host}:{port} is not published to it"
    # the worker's bootstrap is the in-network listener
    assert (
        f"kafka:{bound[env['KAFKA_INTER_BROKER_LISTENER_NAME']][1]}"
        == _env(svc["worker"])["NEWSSTREAM_KAFKA_BOOTSTRAP"]
    )


def test_kibana_setup_imports_the_repos_saved_objects(svc):
    setup = svc["kibana-setup"]
    mounts = [(src, dst) for src, dst in _volume_mounts(setup) if src.endswith(".ndjson")]
    assert len(mounts) == 1, mounts
    src, dst = mounts[0]
    source = (COMPOSE.parent / src).resolve()
    assert source == DEFAULT_PATH and source.is_file()
    command = _command_text(setup)
    assert "/api/saved_objects/_import" in command
    assert "kbn-xsrf: true" in command
    assert f"file=@{dst}" in command
    assert "kibana:5601" in command


# ------------------------------------------------------------------ Dockerfile


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_base_entrypoint_and_command():
    instr = _dockerfile_instructions()
    assert ("FROM", "python:3.12-slim") in instr
    entry = [json.loads(rest) for kw, rest in instr if kw == "ENTRYPOINT"]
    cmd = [json.loads(rest) for kw, rest in instr if kw == "CMD"]
    assert entry[-1] == ["newsstream"] and cmd[-1] == ["worker"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert "newsstream" in scripts
    run = " ".join(rest for kw, rest in instr if kw == "RUN")
    assert "-c requirements.lock" in run


def test_dockerfile_copies_exist_and_are_not_dockerignored():
    sources = []
    for kw, rest in _dockerfile_instructions():
        if kw == "COPY":
            args = [a for a in shlex.split(rest) if not a.startswith("--")]
            sources += [a.rstrip("/") for a in args[:-1]]
    assert {"pyproject.toml", "requirements.lock", "streams", "indexers", "deploy", "examples"} <= set(sources)
    patterns = [
        p.strip() for p in DOCKERIGNORE.read_text(encoding="utf-8").splitlines() if p.strip() and not p.startswith("#")
    ]
    for src in sources:
        ignored = [p for p in patterns if fnmatch.fnmatch(src, p.rstrip("/"))]
        assert not ignored, f"{src} is copied but .dockerignore excludes it ({ignored})"
    # A wildcard may match nothing (BuildKit copies what matches); a plain path must exist.
    missing = [s for s in sources if not any(c in s for c in "*?[") and not (ROOT / s).exists()]
    assert not missing, f"the Dockerfile copies paths that do not exist: {missing}"


def test_dockerignore_keeps_the_venv_and_git_out():
    patterns = {p.strip().rstrip("/") for p in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    assert {".venv", ".git"} <= patterns


# ------------------------------------------------------------------ docker compose config


def test_docker_compose_config_validates():
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI on PATH")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"the docker compose plugin is missing: {(probe.stderr or probe.stdout).strip()}")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
