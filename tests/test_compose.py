"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The compose file is parsed with PyYAML and checked against the code it runs:
the worker's environment must be settings the app reads, the images must be
the versions the local services use, the Kafka listeners must be reachable
where they are advertised, and Elasticsearch's security is set up as Elastic's
own compose example does it (a setup container making the certificates and
setting ``kibana_system``'s password, Kibana logging in with it, the worker
with a user of its own, every password from the ``.env`` file; the setup
script is parsed by bash). When the ``docker compose`` plugin is installed,
``docker compose config -q`` validates the file against the Compose schema too
(it needs no engine).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import re
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
ENV_EXAMPLE = ROOT / ".env.example"
ROLE = ROOT / "deploy" / "elasticsearch" / "newsstream-role.json"
SERVICES = {"kafka", "setup", "elasticsearch", "kibana", "kibana-setup", "worker"}
#: what a user's .env holds (names from .env.example), for interpolating the file as Compose does
DOT_ENV = {"ELASTIC_PASSWORD": "elastic-pw", "KIBANA_PASSWORD": "kibana-pw", "NEWSSTREAM_ES_PASSWORD": "worker-pw"}


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


_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def _interpolate(text: str, dot_env: dict[str, str]) -> str:
    """``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}`` as Compose resolves them from ``.env``."""

    def one(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        value = dot_env.get(name, "")
        if op and op.endswith("?") and not value:
            raise AssertionError(f"${{{name}}} is required: {arg}")
        return value or (arg if op and op.endswith("-") else "")

    return _VARIABLE.sub(one, text)


def _variables(text: str) -> set[str]:
    return {m.group(1) for m in _VARIABLE.finditer(text)}


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


def test_worker_environment_is_valid_settings_pointing_at_the_services(svc, monkeypatch, tmp_path):
    env = {key: _interpolate(value, DOT_ENV) for key, value in _env(svc["worker"]).items()}
    # the CA is a file of the certs volume, mounted where the worker reads it
    ca = env["NEWSSTREAM_ELASTICSEARCH_CA_FILE"]
    mounts = dict((dst, src) for src, dst in _volume_mounts(svc["worker"]))
    assert any(ca.startswith(dst + "/") and src == "certs" for dst, src in mounts.items()), (ca, mounts)
    (tmp_path / "ca.crt").write_text("a CA")
    env["NEWSSTREAM_ELASTICSEARCH_CA_FILE"] = str(tmp_path / "ca.crt")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()  # raises if a value does not validate or settings contradict each other
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.elasticsearch_url == "https://elasticsearch:9200"
    assert settings.elasticsearch_username == "newsstream"
    assert settings.elasticsearch_password is not None
    assert settings.elasticsearch_password.get_secret_value() == DOT_ENV["NEWSSTREAM_ES_PASSWORD"]


def test_worker_replication_fits_the_one_broker_and_one_node(svc):
    """Topics replicated more than the brokers there are cannot be created; an index replica on a
    single node is never allocated (the cluster stays yellow): the worker's values fit the stack."""
    env = _env(svc["worker"])
    kafka_env = _env(svc["kafka"])
    brokers = len(kafka_env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","))
    assert brokers == 1 and int(kafka_env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == 1
    assert 1 <= int(env["NEWSSTREAM_MIN_INSYNC_REPLICAS"]) <= int(env["NEWSSTREAM_REPLICATION_FACTOR"]) <= brokers
    assert _env(svc["elasticsearch"])["discovery.type"] == "single-node"
    assert int(env["NEWSSTREAM_INDEX_REPLICAS"]) == 0


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


def test_elasticsearch_is_single_node_with_security_and_tls_from_the_setup_certificates(svc):
    env = _env(svc["elasticsearch"])
    assert env["discovery.type"] == "single-node"
    assert "-Xmx1g" in env["ES_JAVA_OPTS"]
    for key in ("xpack.security.enabled", "xpack.security.http.ssl.enabled", "xpack.security.transport.ssl.enabled"):
        assert env[key] == "true", key
    assert _variables(env["ELASTIC_PASSWORD"]) == {"ELASTIC_PASSWORD"}
    # key, certificate and CA are the files the setup container writes into the shared volume
    config = "/usr/share/elasticsearch/config"
    assert ("certs", f"{config}/certs") in _volume_mounts(svc["elasticsearch"])
    assert ("certs", f"{config}/certs") in _volume_mounts(svc["setup"])
    setup = _command_text(svc["setup"])
    for key in ("key", "certificate", "certificate_authorities"):
        path = env[f"xpack.security.http.ssl.{key}"]
        assert env[f"xpack.security.transport.ssl.{key}"] == path
        assert path.startswith("certs/")
    assert env["xpack.security.http.ssl.certificate_authorities"] == "certs/ca/ca.crt"
    assert "elasticsearch-certutil ca" in setup and "elasticsearch-certutil cert" in setup
    assert "name: elasticsearch" in setup  # the certificate is made for the node's name on the network
    assert env["xpack.security.http.ssl.certificate"] == "certs/elasticsearch/elasticsearch.crt"
    assert "https://localhost:9200" in " ".join(svc["elasticsearch"]["healthcheck"]["test"])
    assert _depends(svc["elasticsearch"]).get("setup") == "service_healthy"


def test_setup_sets_kibana_systems_password_and_creates_the_workers_user(svc):
    setup = _command_text(svc["setup"])
    assert svc["setup"].get("user") in ("0", 0, "root")
    assert "/_security/user/kibana_system/_password" in setup
    assert '-u "elastic:${ELASTIC_PASSWORD' in setup
    assert "${KIBANA_PASSWORD" in setup.split("kibana_system/_password", 1)[1].split("until", 1)[0]
    assert "/_security/role/newsstream_writer" in setup and "/_security/user/newsstream " in setup
    user_request = setup.split("/_security/user/newsstream ", 1)[1].split("until", 1)[0]
    assert "${NEWSSTREAM_ES_PASSWORD" in user_request and "newsstream_writer" in user_request
    # the role is the repository's file, mounted into the setup container
    role_mounts = [(src, dst) for src, dst in _volume_mounts(svc["setup"]) if src.endswith("newsstream-role.json")]
    assert len(role_mounts) == 1 and (COMPOSE.parent / role_mounts[0][0]).resolve() == ROLE
    assert f"-d @{role_mounts[0][1]}" in setup
    # the worker may not be more than it needs, and needs what it calls (ensure_index, bulk, search, health)
    role = json.loads(ROLE.read_text())
    assert set(role["cluster"]) == {"monitor", "manage_index_templates"}
    [indices] = role["indices"]
    assert set(indices["names"]) == {Settings().index_alias, f"{Settings().index_alias}-*"}
    assert {"create_index", "manage", "write", "read"} <= set(indices["privileges"])


def test_setup_script_parses_as_bash_once_interpolated(svc):
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    argv = shlex.split(_interpolate(svc["setup"]["command"], DOT_ENV))  # Compose splits a string command so
    assert argv[:2] == ["bash", "-c"] and len(argv) == 3
    result = subprocess.run([bash, "-n", "-c", argv[2]], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    # every command of the script is on its own line or continued with a backslash: a folded YAML
    # scalar keeps the line breaks of more-indented lines, which bash reads as command ends
    lines = argv[2].splitlines()
    for before, line in itertools.pairwise(lines):
        if line.strip().startswith(("-", ">")) and not before.rstrip().endswith("\\"):
            raise AssertionError(f"a continuation line without a backslash before it: {line.strip()!r}")


def test_kibana_logs_in_as_kibana_system_over_tls(svc):
    env = _env(svc["kibana"])
    assert env["ELASTICSEARCH_HOSTS"] == '["https://elasticsearch:9200"]'
    assert env["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert _variables(env["ELASTICSEARCH_PASSWORD"]) == {"KIBANA_PASSWORD"}
    ca = env["ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES"]
    assert ("certs", "/usr/share/kibana/config/certs") in _volume_mounts(svc["kibana"])
    assert ca == "config/certs/ca/ca.crt"


def test_the_worker_has_its_own_credentials_and_waits_for_the_setup(svc):
    env = _env(svc["worker"])
    assert env["NEWSSTREAM_ELASTICSEARCH_USERNAME"] not in ("elastic", "kibana_system")
    assert _variables(env["NEWSSTREAM_ELASTICSEARCH_PASSWORD"]) == {"NEWSSTREAM_ES_PASSWORD"}
    assert _depends(svc["worker"]).get("setup") == "service_completed_successfully"


def test_no_password_is_written_in_the_compose_file_and_every_variable_is_in_env_example(compose, svc):
    text = COMPOSE.read_text(encoding="utf-8")
    example = {
        line.split("=", 1)[0].strip()
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    assert _variables(text) <= example, sorted(_variables(text) - example)
    # the example holds no password, and .env is never committed nor sent to the build
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if "PASSWORD=" in line and not line.lstrip().startswith("#"):
            assert line.strip().endswith("="), line
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert ".env" in DOCKERIGNORE.read_text().split()
    for name, service in svc.items():
        for key, value in _env(service).items():
            if "PASSWORD" in key:
                assert _variables(value), f"{name}: {key} is written in the file"


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
    assert '-u "elastic:${ELASTIC_PASSWORD' in command  # security is on: the superuser writes saved objects


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
