"""deploy/kubernetes/ and deploy/grafana/, checked without a cluster or a Grafana.

The manifests are parsed with PyYAML and held to the code they run: the
worker's environment must be settings the app reads, the probes must hit the
paths and port the worker serves (:mod:`streams.observe`), the Service must
select the Deployment's pods, and the KEDA ScaledObject must watch the
consumer group and topics the worker uses. The dashboard's queries are
parsed by Prometheus's own ``promtool`` where it is installed, and name only
metrics the worker defines (tests/e2e/test_observe.py checks them against a
real scrape).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from streams import observe
from streams.settings import Settings
from streams.topics import STAGE_INPUT

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to parse the manifests")

ROOT = Path(__file__).resolve().parents[1]
KUBE = ROOT / "deploy" / "kubernetes"
DASHBOARD = ROOT / "deploy" / "grafana" / "newsstream.json"


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict]:
    docs = [d for f in sorted(KUBE.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    kinds = [d["kind"] for d in docs]
    assert sorted(kinds) == ["Deployment", "ScaledObject", "Service"], kinds
    return {d["kind"]: d for d in docs}


def _container(deployment: dict) -> dict:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _env(deployment: dict) -> dict[str, str]:
    return {e["name"]: str(e["value"]) for e in _container(deployment)["env"]}


def _settings(deployment: dict) -> Settings:
    env = _env(deployment)
    fields = {k[len("NEWSSTREAM_") :].lower(): v for k, v in env.items() if k.startswith("NEWSSTREAM_")}
    return Settings(**fields)  # strings, as from the environment


def test_the_worker_environment_is_settings_the_app_reads(manifests):
    env = _env(manifests["Deployment"])
    known = {f"NEWSSTREAM_{name.upper()}" for name in Settings.model_fields}
    ours = {k for k in env if k.startswith("NEWSSTREAM_")}
    assert ours <= known, sorted(ours - known)
    s = _settings(manifests["Deployment"])
    assert s.metrics_port and s.log_format == "json"
    assert set(env) - ours == {observe.MULTIPROC_ENV}


def test_replication_survives_one_broker_and_one_node(manifests):
    s = _settings(manifests["Deployment"])
    assert s.replication_factor == 3 and s.min_insync_replicas == 2  # one broker down: writes still taken
    assert s.index_replicas == 1


def test_probes_hit_the_endpoint_the_worker_serves(manifests):
    deployment = manifests["Deployment"]
    container = _container(deployment)
    s = _settings(deployment)
    [port] = container["ports"]
    assert port["containerPort"] == s.metrics_port and port["name"] == "metrics"
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert (get["path"], get["port"]) == (path, "metrics"), probe
    # /healthz waits up to LOOP_TIMEOUT for the event loop: the probe must wait longer
    assert container["livenessProbe"]["timeoutSeconds"] > observe.LOOP_TIMEOUT
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(s.metrics_port)
    assert annotations["prometheus.io/path"] == "/metrics"


def test_the_metric_files_and_data_dir_are_writable_volumes(manifests):
    deployment = manifests["Deployment"]
    env = _env(deployment)
    mounts = {m["mountPath"]: m["name"] for m in _container(deployment)["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    for path in (env[observe.MULTIPROC_ENV], env["NEWSSTREAM_WORKER_DATA_DIR"]):
        assert path in mounts, path
        assert "emptyDir" in volumes[mounts[path]]


def test_the_service_selects_the_worker_pods_and_their_metrics_port(manifests):
    deployment, service = manifests["Deployment"], manifests["Service"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    [port] = service["spec"]["ports"]
    assert port["targetPort"] == "metrics" and port["port"] == _settings(deployment).metrics_port


def test_keda_scales_the_worker_on_its_consumer_groups_lag(manifests):
    deployment, scaled = manifests["Deployment"], manifests["ScaledObject"]
    s = _settings(deployment)
    assert scaled["apiVersion"].startswith("keda.sh/")
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"kafka"}
    names = {"raw": s.topic_raw, "parsed": s.topic_parsed, "enriched": s.topic_enriched}
    assert sorted(t["metadata"]["topic"] for t in triggers) == sorted(names[k] for k in STAGE_INPUT.values())
    for t in triggers:
        meta = t["metadata"]
        assert meta["consumerGroup"] == s.app_id  # faust's consumer group is the app id
        assert meta["bootstrapServers"] == s.kafka_bootstrap
        assert int(meta["lagThreshold"]) > 0
    # more consumers than partitions would sit idle
    assert scaled["spec"]["maxReplicaCount"] * s.worker_processes <= s.partitions
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]


# ---------------------------------------------------------------- the Grafana dashboard


@pytest.fixture(scope="module")
def board() -> dict:
    return json.loads(DASHBOARD.read_text())


def _exprs(board: dict) -> list[str]:
    return [t["expr"] for p in board["panels"] for t in p["targets"]]


def test_the_dashboard_is_a_grafana_model_on_a_prometheus_datasource(board):
    assert board["uid"] and board["title"] and isinstance(board["schemaVersion"], int)
    [var] = board["templating"]["list"]
    assert var["type"] == "datasource" and var["query"] == "prometheus"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in board["panels"]:
        assert p["datasource"] == {"type": "prometheus", "uid": "${" + var["name"] + "}"}
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"panel {p['title']!r} overlaps another"
        cells |= mine


def test_the_dashboard_queries_only_metrics_the_worker_defines(board):
    source = (ROOT / "streams" / "metrics.py").read_text()
    counters = set(re.findall(r'pc\.Counter\(\s*"(newsstream_[a-z_]+)"', source))
    histograms = set(re.findall(r'pc\.Histogram\(\s*"(newsstream_[a-z_]+)"', source))
    gauges = set(re.findall(r'pc\.Gauge\(\s*"(newsstream_[a-z_]+)"', source)) | {"newsstream_consumer_lag"}
    defined = (
        {f"{c}_total" for c in counters}
        | {f"{h}{suffix}" for h in histograms for suffix in ("_bucket", "_sum", "_count")}
        | gauges
    )
    used = {name for e in _exprs(board) for name in re.findall(r"\bnewsstream_[a-z0-9_]+", e)}
    assert used <= defined, sorted(used - defined)
    # and it shows each of them
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in used}
    assert counters | histograms | gauges <= shown, sorted((counters | histograms | gauges) - shown)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus package) not installed")
def test_promtool_parses_every_dashboard_query(board, tmp_path):
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(_exprs(board))],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
