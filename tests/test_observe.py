"""streams.metrics, streams.logs and streams.observe without services: reason classes, the origin header, JSON log lines, the health endpoint."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from streams import logs, metrics, observe
from streams.runner import _children_alive
from streams.settings import Settings
from streams.waiting import _refresh_seconds
from tests.conftest import run_cli


@pytest.mark.parametrize(
    ("error", "reason", "expected"),
    [
        ("ParseRejected", "binary input", "binary_input"),
        ("ParseRejected", "no article text", "no_article_text"),
        ("ParseRejected", "something new", "rejected"),
        ("RecordError", "invalid JSON", "invalid_record"),
        ("MessageTooLarge", "output record too large: 9000000 bytes", "too_large"),
        ("KafkaTimeoutError", "output refused by Kafka: KafkaTimeoutError()", "kafka_refused"),
        ("document_parsing_exception", "[1:2] failed to parse field [published_at]", "es_mapping"),
        ("mapper_parsing_exception", "failed to parse", "es_mapping"),
        ("es_rejected_execution_exception", "rejected execution", "es_unavailable"),
        ("http_503", "", "es_unavailable"),
        ("illegal_argument_exception", "bad", "es_rejected"),
        ("RuntimeError", "ferry-check error: refused", "error"),
        ("StageTimeout", "timeout", "timeout"),
        ("StageCrash", "crash", "crash"),
    ],
)
def test_dead_letter_reasons_fall_into_a_bounded_set_of_classes(error, reason, expected):
    assert metrics.reason_class(error, reason) == expected
    assert expected in metrics.REASON_CLASSES


def test_the_origin_header_round_trips_and_is_kept_from_stage_to_stage():
    origin = metrics.Origin("articles.raw", 1, 42, 1_764_000_000_123)
    assert metrics.Origin.decode(origin.encode()) == origin
    assert metrics.Origin.decode(b"garbage") is None and metrics.Origin.decode(None) is None
    raw = SimpleNamespace(topic="articles.raw", partition=1, offset=42, timestamp=1_764_000_000.123, headers=[])
    assert metrics.Origin.decode(metrics.origin_header(raw)) == origin
    # a record of a later stage carries the raw message's origin, not its own coordinates
    parsed = SimpleNamespace(
        topic="articles.parsed", partition=0, offset=7, timestamp=1_764_000_001.0, headers=[("x", b"y")]
    )
    parsed.headers.append((metrics.ORIGIN_HEADER, origin.encode()))
    assert metrics.origin_of(parsed) == origin
    assert metrics.header({metrics.ORIGIN_HEADER: origin.encode()}, metrics.ORIGIN_HEADER) == origin.encode()


def test_recording_without_a_metrics_port_does_nothing():
    assert not metrics.enabled()
    assert observe.start(Settings(metrics_port=None), ["parse"]) is None
    metrics.count_in("parse", 3)  # no error, nothing kept
    metrics.observe_indexed([1], time.time())
    assert not metrics.enabled()


def test_json_log_lines_carry_the_stage_offsets_and_article_id():
    formatter = logs.JsonFormatter()
    record = logging.LogRecord("newsstream.x", logging.WARNING, __file__, 1, "dead letter: %s", ("why",), None)
    record.__dict__.update(topic="articles.raw", partition=1, offset=5, article_id="abc")
    token = logs.log_stage.set("parse")
    try:
        line = formatter.format(record)
    finally:
        logs.log_stage.reset(token)
    obj = json.loads(line)
    assert "\n" not in line
    assert obj["message"] == "dead letter: why" and obj["level"] == "WARNING" and obj["logger"] == "newsstream.x"
    assert (obj["stage"], obj["topic"], obj["partition"], obj["offset"], obj["article_id"]) == (
        "parse",
        "articles.raw",
        1,
        5,
        "abc",
    )
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("n", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    obj = json.loads(formatter.format(record))
    assert "ValueError: boom" in obj["exception"] and "stage" not in obj


def test_faust_gets_a_json_handler_only_in_json_format():
    assert logs.faust_logging_config(Settings(log_format="plain")) is None
    config = logs.faust_logging_config(Settings(log_format="json"))
    assert config is not None
    assert config["handlers"]["default"]["formatter"] == "json"
    assert config["formatters"]["json"]["()"] == "streams.logs.JsonFormatter"


def _get(port: int, path: str) -> tuple[int, dict | str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            body = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read().decode(), exc.code
    return status, json.loads(body) if body.startswith("{") else body


def test_the_endpoint_answers_probes_from_its_checks_and_the_event_loop(monkeypatch):
    monkeypatch.setattr(observe, "LOOP_TIMEOUT", 0.5)
    endpoint = observe.Endpoint(0, None, lambda _registry: b"newsstream_x_total 1.0\n", "text/plain").start()
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        assert _get(endpoint.port, "/metrics") == (200, "newsstream_x_total 1.0\n")
        status, body = _get(endpoint.port, "/readyz")
        assert status == 503 and body["checks"]["started"]["ok"] is False  # type: ignore[index]
        endpoint.ready.clear()
        answers = iter([(True, "fine"), (False, "gone")])
        endpoint.ready["kafka"] = lambda: next(answers)
        assert _get(endpoint.port, "/readyz")[0] == 200
        assert _get(endpoint.port, "/readyz")[0] == 200  # cached for cache_seconds: not asked again
        endpoint.cache_seconds = 0
        assert _get(endpoint.port, "/readyz") == (
            503,
            {"ok": False, "checks": {"kafka": {"ok": False, "detail": "gone"}}},
        )
        endpoint.loop = loop
        assert _get(endpoint.port, "/healthz")[0] == 200
        loop.call_soon_threadsafe(time.sleep, 1.5)  # the loop is blocked: not alive
        time.sleep(0.1)
        status, body = _get(endpoint.port, "/healthz")
        assert status == 503 and "did not run a callback" in body["checks"]["event_loop"]["detail"]  # type: ignore[index]
        assert _get(endpoint.port, "/nothing")[0] == 404
    finally:
        endpoint.close()
        loop.call_soon_threadsafe(loop.stop)
        runner.join(timeout=5)
        loop.close()


@pytest.mark.parametrize(("interval", "seconds"), [("500ms", 0.5), ("1s", 1.0), ("2m", 120.0), ("-1", None)])
def test_refresh_interval_in_seconds(interval, seconds):
    assert _refresh_seconds(interval) == seconds


def test_a_worker_names_a_metrics_port_already_in_use(services, tmp_path):
    # the real services: the worker checks Kafka and Elasticsearch before it opens its endpoint
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli({"NEWSSTREAM_METRICS_PORT": str(port), "TMPDIR": str(tmp_path)}, "worker", timeout=120)
    assert done.returncode == 1, done.stderr
    assert f"cannot serve metrics on NEWSSTREAM_METRICS_PORT={port}: Address already in use" in done.stderr
    assert list(tmp_path.iterdir()) == []  # the metric files' folder it made is gone


def test_a_child_whose_event_loop_stopped_beating_fails_the_liveness_check(tmp_path, monkeypatch):
    monkeypatch.setenv(observe.MULTIPROC_ENV, str(tmp_path))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert _children_alive([child]) == (True, "1 child process(es) running, 1 starting")
        beat = tmp_path / f"heartbeat_{child.pid}"
        beat.touch()
        assert _children_alive([child]) == (True, "1 child process(es) running")
        old = time.time() - observe.HEARTBEAT_TIMEOUT - 30
        os.utime(beat, (old, old))
        ok, detail = _children_alive([child])
        assert not ok and detail.startswith(f"event loop silent: pid {child.pid} for ")
        child.kill()
        child.wait()
        assert _children_alive([child]) == (False, f"child process(es) exited: pid {child.pid}")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
