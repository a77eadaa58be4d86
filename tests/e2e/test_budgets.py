"""Slow, hanging and crashing messages against a running worker, on the real Kafka and
Elasticsearch (issue 20): the budget per message, the crash retry, SIGTERM within seconds,
and unacknowledged work coming back after a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import orjson

from streams import kafka
from streams.delivery.deadletters import read_dead_letters
from streams.publish import ensure_topics
from tests.conftest import indexed_docs, read_topic, text_article, wait_for
from tests.e2e.test_observe import free_port, http_get

PARAGRAPHS = [
    "The harbour authority of Lisbon opened a new ferry line across the Tagus on Monday morning.",
    "Officials said the line would carry commuters between the two banks every twenty minutes.",
    "Local businesses welcomed the project, which cost more than forty million euros to build.",
]
STALL = '["tests.e2e.plugins_for_tests:stall"]'
SEGFAULT = '["tests.e2e.plugins_for_tests:segfault"]'


def _article(title: str) -> bytes:
    """An envelope of a text article; its URL (and so its id) is its title's."""
    url = "https://news.example.com/" + "-".join(title.lower().replace(":", "").split())
    return orjson.dumps({"url": url, "text": text_article(title, PARAGRAPHS).decode()})


def _send(settings, values: list[bytes], key: bytes = b"one-partition") -> None:
    """Publish ``values`` to the raw topic in this order, on one partition (one key)."""
    ensure_topics(settings)
    producer = kafka.producer(settings)
    for value in values:
        producer.send(settings.topic_raw, key=key, value=value).get(timeout=30)
    producer.close()


def metric(port: int, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with ``labels`` (in any order) on a worker's /metrics, or None."""
    status, body = http_get(port, "/metrics")
    assert status == 200, body[:300]
    wanted = {f'{k}="{v}"' for k, v in labels.items()}
    for line in body.splitlines():
        head, _, value = line.rpartition(" ")
        sample, _, rest = head.partition("{")
        if sample == name and wanted <= set(rest.rstrip("}").split(",")) - {""}:
            return float(value)
    return None


def _titles(settings) -> list[str]:
    return sorted(h["_source"].get("title") or "" for h in indexed_docs(settings))


def _tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its descendants so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(") ", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total


def _wait_busy(pid: int, timeout: float = 120, busy: float = 0.25, log=lambda: "") -> None:
    """Wait until process ``pid`` (with its children) spends ``busy`` of a core for a second: working.
    (A quarter of a core: on a shared machine, with the tests run under ``nice``, a busy child got
    0.3-0.5 of one.)"""
    deadline = time.monotonic() + timeout
    last = _tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _tree_cpu_seconds(pid)
        if now - last >= busy:
            return
        last = now
    raise AssertionError(f"process {pid} never got busy; log:\n{log()}")


def _stopped_within(worker, seconds: float, started: float) -> None:
    """Fail unless ``worker`` exits within ``seconds`` of ``started`` (killing it if it does not within 60 s)."""
    assert worker.proc is not None
    try:
        worker.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        raise AssertionError(f"the worker ignored SIGTERM for 60 s; log:\n{worker.log_tail()}") from None
    took = time.monotonic() - started
    assert took < seconds, f"the worker took {took:.1f} s to stop; log:\n{worker.log_tail()}"


def test_a_message_over_its_budget_is_dead_lettered_as_timeout_and_the_stream_goes_on(pipeline_env):
    _env, settings, start = pipeline_env
    port = free_port()
    worker = start(
        NEWSSTREAM_ENRICHERS=STALL,
        NEWSSTREAM_ENRICH_TIMEOUT_SECONDS="5",
        STALL_SECONDS="600",
        NEWSSTREAM_METRICS_PORT=str(port),
    )
    _send(
        settings,
        [_article("Ferry line 1 opens"), _article("STALL: a plugin hangs here"), _article("Ferry line 2 opens")],
    )
    _send(settings, [_article(f"Ferry line {i} opens") for i in range(3, 6)], key=b"another-partition")

    wait_for(
        lambda: len(_titles(settings)) == 5,
        240,
        what=f"the 5 articles the hanging plugin did not see; log:\n{worker.log_tail()}",
    )
    assert _titles(settings) == [f"Ferry line {i} opens" for i in range(1, 6)]
    [letter] = wait_for(lambda: read_dead_letters(settings, timeout_s=2), 60, what="the dead letter")
    assert (letter.stage, letter.reason, letter.error) == ("enrich", "timeout", "StageTimeout")
    assert "more than 5 s on this message (NEWSSTREAM_ENRICH_TIMEOUT_SECONDS)" in letter.detail
    assert letter.topic == settings.topic_parsed
    assert orjson.loads(letter.original_bytes())["title"] == "STALL: a plugin hangs here"
    assert metric(port, "newsstream_dead_letters_total", stage="enrich", reason="timeout") == 1.0
    assert worker.alive()


def test_a_message_that_crashes_the_enrich_child_twice_is_dead_lettered_as_crash(pipeline_env):
    _env, settings, start = pipeline_env
    port = free_port()
    worker = start(NEWSSTREAM_ENRICHERS=SEGFAULT, NEWSSTREAM_METRICS_PORT=str(port))
    _send(
        settings,
        [_article("Ferry line 1 opens"), _article("SEGFAULT: native code dies here"), _article("Ferry line 2 opens")],
    )
    wait_for(lambda: len(_titles(settings)) == 2, 240, what=f"the 2 good articles; log:\n{worker.log_tail()}")
    [letter] = wait_for(lambda: read_dead_letters(settings, timeout_s=2), 60, what="the dead letter")
    assert (letter.stage, letter.reason, letter.error) == ("enrich", "crash", "StageCrash")
    assert letter.detail == "the enrich child process was killed by SIGSEGV on this message (2 times)"
    assert metric(port, "newsstream_dead_letters_total", stage="enrich", reason="crash") == 1.0
    log = worker.log.read_text(errors="replace")
    assert log.count("enrich: child process") <= 4  # started once, again after each crash: no crash loop
    _send(settings, [_article("Ferry line 3 opens")])
    wait_for(lambda: len(_titles(settings)) == 3, 120, what="an article after the crash")
    assert worker.alive()


def test_sigterm_during_a_long_parse_stops_the_worker_in_seconds_and_the_work_comes_back(pipeline_env):
    _env, settings, start = pipeline_env
    # 8 MB of short lines: tens of seconds of parsing (about 30 s measured here), all within the budget
    slow = orjson.dumps({"url": "https://news.example.com/slow", "text": "ab cd\n" * 1_150_000})
    assert len(slow) < settings.max_message_bytes
    first = start(NEWSSTREAM_PARSE_TIMEOUT_SECONDS="600")
    ready = ("parse: child process", "enrich: child process")  # set up: their CPU is not the parse's
    wait_for(lambda: all(r in first.log_tail(100_000) for r in ready), 180, what="the children to be ready")
    _send(settings, [slow, *[_article(f"Ferry line {i} opens") for i in range(1, 4)]])
    assert first.proc is not None
    _wait_busy(first.proc.pid, log=first.log_tail)  # the slow page is being parsed

    started = time.monotonic()
    first.proc.send_signal(signal.SIGTERM)
    _stopped_within(first, 10, started)
    assert _titles(settings) == []  # nothing after the slow page was acknowledged

    # after the restart the batch comes again; with a short budget the slow page is dead-lettered
    second = start(NEWSSTREAM_PARSE_TIMEOUT_SECONDS="3")
    wait_for(
        lambda: len(_titles(settings)) == 3, 240, what=f"the 3 articles after the restart; log:\n{second.log_tail()}"
    )
    [letter] = wait_for(lambda: read_dead_letters(settings, timeout_s=2), 60, what="the dead letter")
    assert (letter.stage, letter.reason) == ("parse", "timeout")
    assert letter.original_bytes().startswith(b'{"url":"https://news.example.com/slow"')


def test_sigterm_while_a_plugin_hangs_stops_the_worker_in_seconds(pipeline_env):
    _env, settings, start = pipeline_env
    first = start(NEWSSTREAM_ENRICHERS=STALL, STALL_SECONDS="600")
    _send(settings, [_article("STALL: a plugin hangs here"), _article("Ferry line 1 opens")])
    wait_for(lambda: len(read_topic(settings, settings.topic_parsed)) == 2, 120, what="both articles parsed")
    time.sleep(3)  # the enrich stage is inside the plugin's sleep
    assert _titles(settings) == []
    assert first.proc is not None
    started = time.monotonic()
    first.proc.send_signal(signal.SIGTERM)
    _stopped_within(first, 10, started)

    start(NEWSSTREAM_ENRICHERS=STALL, STALL_SECONDS="0")  # the plugin does not hang any more
    wait_for(lambda: len(_titles(settings)) == 2, 240, what="both articles after the restart")
    assert read_dead_letters(settings, timeout_s=2) == []
