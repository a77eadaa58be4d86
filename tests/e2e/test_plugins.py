"""Plugins on the real services: the example package's enricher and alert agent, and a plugin that raises."""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution

import orjson
import pytest

from streams import kafka
from streams.delivery.deadletters import read_dead_letters
from streams.publish import ensure_topics
from tests.conftest import RFI, indexed_docs, read_topic, run_cli, text_article, wait_for

OTHER = text_article(
    "Harbour authority opens new ferry terminal in Lisbon",
    [
        "The port authority of Lisbon opened a new ferry terminal on Monday after three years of construction work.",
        "Officials said the terminal would carry four million passengers a year across the Tagus river.",
        "Local businesses welcomed the project, which cost more than forty million euros to build.",
    ],
)


def _plugin_installed() -> bool:
    try:
        distribution("newsstream-watchlist")
        return True
    except PackageNotFoundError:
        return False


@pytest.fixture(scope="module", autouse=True)
def example_plugin():
    """Install the example plugin package (examples/plugin) if it is not installed yet."""
    if not _plugin_installed():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", "examples/plugin"], check=True)
    importlib.invalidate_caches()
    assert _plugin_installed()


def test_agents_list_shows_the_example_plugin(pipeline_env):
    env, settings, _ = pipeline_env
    out = run_cli(env, "agents", "list", timeout=60)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[1]: line for line in out.stdout.splitlines()[1:] if line.strip()}
    assert "newsstream-watchlist 0.1.0" in lines["watchlist"]
    assert "watchlist:keyword" in lines["watchlist"]
    assert settings.topic_enriched in lines["watchlist-alert"]
    assert f"{settings.app_id}-watchlist-alert" in lines["watchlist-alert"]
    assert lines["parse"].split()[-1] == settings.app_id


def test_example_plugin_field_is_indexed_and_alert_sent_for_the_match_only(pipeline_env):
    env, settings, start = pipeline_env
    worker = start()
    ensure_topics(settings)
    # a plain kafka-python producer, not our CLI: a JSON envelope and a bare text value
    producer = kafka.producer(settings)
    envelope = {
        "url": "https://www.rfi.fr/en/blinken-kazakhstan",
        "content_type": "text",
        "text": RFI.read_text(),
        "source": "rfi",
    }
    producer.send(settings.topic_raw, key=b"rfi", value=orjson.dumps(envelope)).get(timeout=30)
    producer.send(settings.topic_raw, key=b"lisbon", value=OTHER).get(timeout=30)
    producer.close()

    hits = wait_for(
        lambda: (h := indexed_docs(settings)) and len(h) == 2 and h, 180, what=f"2 documents; log:\n{worker.log_tail()}"
    )
    by_title = {h["_source"]["title"]: h["_source"] for h in hits}
    rfi = by_title["US Secretary of State Antony Blinken shows support for Kazakhstan"]
    assert rfi["watchlist"] == ["Antony Blinken"]
    assert rfi["url"] == "https://www.rfi.fr/en/blinken-kazakhstan"
    assert by_title["Harbour authority opens new ferry terminal in Lisbon"]["watchlist"] == []

    alerts = wait_for(lambda: read_topic(settings, env["WATCHLIST_ALERT_TOPIC"]), 120, what="an alert")
    assert len(alerts) == 1
    alert = orjson.loads(alerts[0].value)
    assert alert == {"id": rfi["id"], "title": rfi["title"], "watchlist": ["Antony Blinken"]}


def test_enricher_that_raises_dead_letters_only_its_article(pipeline_env):
    _env, settings, start = pipeline_env
    worker = start(NEWSSTREAM_ENRICHERS='["tests.e2e.plugins_for_tests:explode"]')
    ensure_topics(settings)
    producer = kafka.producer(settings)
    bomb = text_article("EXPLODE: a title the test enricher refuses", OTHER.decode().split("\n\n")[1:])
    for key, value in ((b"a", OTHER), (b"bomb", bomb), (b"c", RFI.read_bytes())):
        # one partition key order does not matter: all three must come out somewhere
        producer.send(settings.topic_raw, key=key, value=value).get(timeout=30)
    producer.close()

    hits = wait_for(
        lambda: (h := indexed_docs(settings)) and len(h) == 2 and h, 180, what=f"2 documents; log:\n{worker.log_tail()}"
    )
    assert all(h["_source"]["explode_checked"] is True for h in hits)
    letters = wait_for(lambda: read_dead_letters(settings, timeout_s=2), 60, what="the dead letter")
    assert len(letters) == 1
    assert letters[0].stage == "explode"
    assert letters[0].error == "RuntimeError"
    assert "refusing to enrich" in letters[0].reason
    assert letters[0].topic == settings.topic_parsed
    assert worker.alive()
