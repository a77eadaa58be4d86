"""Seeing it run, on the real Kafka, Elasticsearch and Prometheus: metrics, health, status, publish --wait, JSON logs."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from indexers.elasticsearch.client import sync_client
from streams import kafka
from streams.delivery.deadletters import read_dead_letters
from streams.plugins import load_consumer_agents
from streams.publish import ensure_topics
from tests.conftest import RFI, ROOT, indexed_docs, run_cli, text_article, wait_for

PROMETHEUS = shutil.which("prometheus")
DASHBOARD = ROOT / "deploy" / "grafana" / "newsstream.json"
PARAGRAPH = (
    "The harbour authority said on Monday that the ferry timetable would change from next month, "
    "after a review of the crossings between the two islands found the boats too full in summer."
)
JUNK = b"\x00\x01\x02\xff\xfe binary junk \x00"
FERRY_CHECK = "tests.e2e.plugins_for_tests:ferry_check"


def article(title: str, i: int) -> bytes:
    """A plain-text article of its own (the body differs: an article's id is its body's when it has no URL)."""
    return text_article(title, [f"{PARAGRAPH} Crossing number {i} is the first to change.", PARAGRAPH, PARAGRAPH])


def free_port() -> int:
    """A TCP port free on loopback now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 10) -> tuple[int, str]:
    """``(status, body)`` of GET http://127.0.0.1:PORT/PATH; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def metric_names(exposition: str) -> set[str]:
    """The sample names of a Prometheus text exposition (``name{labels} value`` lines)."""
    return {m.group(1) for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", exposition, re.M)}


def dashboard_metrics() -> set[str]:
    """Every ``newsstream_*`` name the Grafana dashboard's queries use."""
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    return {name for e in exprs for name in re.findall(r"\bnewsstream_[a-z0-9_]+", e)}


@contextmanager
def prometheus(tmp_path: Path, target_port: int) -> Iterator[str]:
    """A real Prometheus (the Debian package) scraping 127.0.0.1:TARGET every 2 s; yields its URL."""
    assert PROMETHEUS is not None
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n"
        "scrape_configs:\n  - job_name: newsstream\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: http_get(port, "/-/ready")[0] == 200, 60, what="Prometheus ready")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def promql(url: str, query: str) -> float | None:
    """The value of an instant PromQL query through Prometheus's HTTP API (one series), or None."""
    with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': query})}", timeout=10) as r:
        answer = json.load(r)
    result = answer["data"]["result"]
    if answer["status"] != "success" or len(result) != 1:
        return None
    return float(result[0]["value"][1])


def publish(settings, messages: list[tuple[bytes, bytes]]) -> None:
    ensure_topics(settings)
    producer = kafka.producer(settings)
    for key, value in messages:
        producer.send(settings.topic_raw, key=key, value=value)
    producer.flush()
    producer.close()


@pytest.mark.skipif(
    PROMETHEUS is None,
    reason="no prometheus binary: ./dev installs Debian's package when it runs as root (apt-get install prometheus)",
)
def test_prometheus_scrapes_what_the_worker_published_indexed_and_dead_lettered(pipeline_env, tmp_path):
    """Two worker processes and a plugin agent's process, one endpoint: the sums are exact."""
    _env, settings, start = pipeline_env
    port = free_port()
    checked = f"{settings.app_id}.checked"  # the plugin's output topic, deleted with the test's topics
    ensure_topics(settings)
    ensure_topics(settings, [checked])
    worker = start(
        NEWSSTREAM_METRICS_PORT=str(port),
        NEWSSTREAM_WORKER_PROCESSES="2",
        NEWSSTREAM_AGENTS=json.dumps([FERRY_CHECK]),
        FERRY_CHECK_TOPIC=checked,
    )
    ready = wait_for(
        lambda: (a := http_get(port, "/readyz"))[0] == 200 and a,
        300,
        what=f"/readyz 200; worker log:\n{worker.log_tail()}",
    )
    assert json.loads(ready[1])["checks"].keys() == {"partitions", "kafka", "elasticsearch"}
    # the extra built-in process and one per plugin agent (ferry-check, and any installed
    # as a package, such as examples/plugin after tests/e2e/test_plugins.py): running and beating
    agents = load_consumer_agents(settings.model_copy(update={"agents": [FERRY_CHECK]}))
    expected_children = f"{1 + len(agents)} child process(es) running"
    wait_for(
        lambda: (
            (h := http_get(port, "/healthz"))[0] == 200
            and json.loads(h[1])["checks"]["children"]["detail"] == expected_children
        ),
        90,
        what=f"/healthz: {expected_children}, none starting (last: {http_get(port, '/healthz')})",
    )

    good = [(f"good-{i}".encode(), article(f"Ferry timetable {i} changes", i)) for i in range(3)]
    bad = [(f"bad-{i}".encode(), JUNK + bytes([i])) for i in range(2)]
    publish(settings, good + bad)
    wait_for(lambda: len(indexed_docs(settings)) == 3, 240, what=f"3 documents; worker log:\n{worker.log_tail()}")
    wait_for(lambda: len(read_dead_letters(settings, timeout_s=2)) == 2, 60, what="2 dead letters")

    group, plugin_group = settings.app_id, f"{settings.app_id}-ferry-check"
    expected = {
        'sum(newsstream_messages_in_total{stage="parse"})': 5,
        'sum(newsstream_messages_out_total{stage="parse"})': 3,
        'sum(newsstream_messages_in_total{stage="enrich"})': 3,
        'sum(newsstream_messages_out_total{stage="enrich"})': 3,
        'sum(newsstream_messages_out_total{stage="index"})': 3,
        'sum(newsstream_dead_letters_total{stage="parse",reason="binary_input"})': 2,
        "sum(newsstream_dead_letters_total)": 2,
        "sum(newsstream_publish_to_indexed_seconds_count)": 3,
        'sum(newsstream_batch_size_sum{stage="parse"})': 5,
        'sum(newsstream_messages_in_total{stage="ferry-check"})': 5,  # the plugin's own process
        'sum(newsstream_messages_out_total{stage="ferry-check"})': 5,
        f'sum(newsstream_consumer_lag{{group="{group}"}})': 0,
        f'count(newsstream_consumer_lag{{group="{group}"}})': 3 * settings.partitions,
        f'sum(newsstream_consumer_lag{{group="{plugin_group}"}})': 0,
        "sum(newsstream_elasticsearch_unreachable)": 0,
        'up{job="newsstream"}': 1,
    }
    with prometheus(tmp_path, port) as url:
        for query, value in expected.items():
            wait_for(
                lambda q=query, v=value: promql(url, q) == v,
                90,
                what=f"{query} == {value} in Prometheus (last: {promql(url, query)})",
            )
        # the latency histogram's observations are real durations: > 0, and under the test's wait
        latency = promql(url, "sum(newsstream_publish_to_indexed_seconds_sum)")
        assert latency is not None and 0 < latency < 3 * 240

    # every metric the Grafana dashboard queries is in the worker's real /metrics
    status, exposition = http_get(port, "/metrics")
    assert status == 200
    names = metric_names(exposition)
    assert dashboard_metrics() <= names, sorted(dashboard_metrics() - names)
    worker.stop()
    assert worker.proc is not None and worker.proc.returncode == 0, worker.log_tail()
    assert http_get(port, "/healthz")[0] == 0  # the endpoint closed with the worker


def test_status_shows_the_lag_of_a_burst_and_zero_once_it_is_indexed(pipeline_env):
    env, settings, start = pipeline_env
    worker = start()
    wait_for(lambda: "[^Worker]: Ready" in worker.log_tail(100_000), 240, what="the worker ready")
    watch = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "status", "--json", "--watch", "--interval", "0.5"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in watch.stdout or []:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = json.loads(lines.get(timeout=120))
        # the built-in agents, then any plugin agent installed as a package (examples/plugin, once
        # tests/e2e/test_plugins.py installed it), each in its own group
        builtin = first["agents"][:3]
        assert [(a["name"], a["kind"], a["group"]) for a in builtin] == [
            (name, "built-in", settings.app_id) for name in ("parse", "enrich", "index")
        ]
        assert all(a["kind"] == "plugin" and a["group"] != settings.app_id for a in first["agents"][3:])
        assert all(a["lag"] == 0 for a in first["agents"])
        n = 30
        publish(settings, [(f"burst-{i}".encode(), article(f"Ferry burst {i}", i)) for i in range(n)])
        seen: list[dict] = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            seen.append(json.loads(lines.get(timeout=120)))
            last = seen[-1]
            if last["elasticsearch"]["documents"] == n and all(a["lag"] == 0 for a in last["agents"]):
                break
        else:
            pytest.fail(f"not back to 0 lag with {n} documents; last status: {seen[-1]}; log:\n{worker.log_tail()}")
    finally:
        watch.terminate()
        watch.wait(timeout=30)
    peak = max(sum(a["lag"] for a in s["agents"]) for s in seen)
    assert peak > 0, "the status never showed the burst's lag"
    # each agent's lag is the sum of its partitions', read from the committed offsets
    for a in last["agents"][:3]:
        assert a["lag"] == sum(p["lag"] for p in a["partitions"]) == 0
        assert sum(p["end"] for p in a["partitions"]) == n
        assert a["last_minute"] > 0 and a["per_second"] > 0
    assert last["kafka"]["healthy"] and last["elasticsearch"]["healthy"]
    assert last["dead_letters"] == {"total": 0, "counted": 0, "by_stage": {}}


def test_publish_wait_prints_the_counts_once_searchable_and_the_log_is_json(pipeline_env, tmp_path):
    env, settings, start = pipeline_env
    worker = start(NEWSSTREAM_LOG_FORMAT="json")
    done = run_cli(env, "publish", "--wait", "--timeout", "300", str(ROOT / "examples" / "articles"), timeout=400)
    assert done.returncode == 0, (done.stdout, done.stderr, worker.log_tail())
    assert "all in: 1 published, 1 indexed, 0 dead-lettered" in done.stdout
    # searchable now: no refresh asked for
    es = sync_client(settings)
    hits = es.search(index=settings.index_alias, query={"match": {"body": "Kazakhstan"}})["hits"]["hits"]
    assert [h["_source"]["title"] for h in hits] == [
        "US Secretary of State Antony Blinken shows support for Kazakhstan"
    ]

    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "ferry.txt").write_bytes(article("Ferry timetable changes", 1))
    (folder / "junk.txt").write_bytes(JUNK)
    shutil.copy(RFI, folder / "again.txt")  # the same article again: indexed again under its id
    done = run_cli(env, "publish", "--wait", "--timeout", "300", str(folder), timeout=400)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "all in: 3 published, 2 indexed, 1 dead-lettered (parse: binary_input 1)" in done.stdout
    assert "3 articles, 0 failed" in done.stderr  # the folder's progress bar, last state
    assert es.count(index=settings.index_alias)["count"] == 2
    es.close()

    # NEWSSTREAM_LOG_FORMAT=json: every line of the worker's output is one JSON object
    worker.stop()
    lines = [line for line in worker.log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    [letter] = [r for r in records if r["message"].startswith("dead letter:")]
    assert letter["stage"] == "parse" and letter["topic"] == settings.topic_raw
    assert isinstance(letter["partition"], int) and isinstance(letter["offset"], int)
    assert letter["article_id"] and letter["level"] == "WARNING"
    indexed = [r for r in records if r["message"].startswith("indexed batch:")]
    assert indexed and all(r["stage"] == "index" and r["topic"] == settings.topic_enriched for r in indexed)
    assert any(r["message"].startswith("newsstream worker: agents parse, enrich, index") for r in records)


def test_publish_wait_gives_up_after_its_timeout_without_a_worker(pipeline_env):
    env, _settings, _start = pipeline_env
    done = run_cli(env, "publish", "--wait", "--timeout", "3", str(RFI), timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "published 1 article(s)" in done.stdout
    assert "not all in after 3 s: the parse stage has 1 message(s) to handle" in done.stderr


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_while_the_worker_starts_stops_its_children_and_removes_its_metric_files(pipeline_env, tmp_path):
    _env, _settings, start = pipeline_env
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    worker = start(NEWSSTREAM_WORKER_PROCESSES="2", NEWSSTREAM_METRICS_PORT=str(free_port()), TMPDIR=str(scratch))
    assert worker.proc is not None
    # its second process (and a process per installed plugin agent, if any)
    children = wait_for(lambda: _children(worker.proc.pid), 60, interval=0.1, what="the worker's child processes")
    assert worker.alive()  # still starting: topics, index, the model
    worker.proc.send_signal(signal.SIGTERM)
    worker.proc.wait(timeout=60)
    wait_for(lambda: not any(map(_running, children)), 60, what=f"the child processes {children} stopped")
    assert [p.name for p in scratch.iterdir() if p.name.startswith("newsstream-metrics-")] == []
