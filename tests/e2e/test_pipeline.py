"""End to end, on the real Kafka and Elasticsearch: raw article in, document out, bad message to the DLQ."""

from __future__ import annotations

import subprocess
import sys

from kafka import KafkaProducer

from streams.dlq import read_dead_letters
from tests.conftest import RFI, indexed_docs, wait_for


def test_published_article_is_parsed_enriched_and_indexed(pipeline_env):
    env, settings, start = pipeline_env
    worker = start()
    # publish with the CLI, as a user would
    out = subprocess.run(
        [sys.executable, "-m", "streams.cli", "publish", str(RFI)],
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "published 1 article(s)" in out.stdout

    hits = wait_for(lambda: indexed_docs(settings), 180, what=f"the article indexed; worker log:\n{worker.log_tail()}")
    assert len(hits) == 1
    doc = hits[0]["_source"]
    assert doc["title"] == "US Secretary of State Antony Blinken shows support for Kazakhstan"
    assert doc["published_at"] == "2023-02-28"
    assert doc["publisher"] == "RFI"
    assert doc["authors"] == ["Régis Genté"]
    assert "Antony Blinken" in doc["persons"]
    assert {"Kazakhstan", "Astana", "Russia"} <= set(doc["places"])
    assert {"KZ", "US", "RU"} <= set(doc["countries"])
    assert "Geopolitics" in doc["tags"]
    assert doc["body"].startswith("The head of American diplomacy Antony Blinken is on tour in Central Asia.")
    assert "Advertisement" not in doc["body"]
    assert len(doc["fingerprint"]) == 16
    assert hits[0]["_id"] == doc["id"]

    # and the search command finds it
    found = subprocess.run(
        [sys.executable, "-m", "streams.cli", "search", "Kazakhstan", "--json"],
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 0, found.stderr
    assert '"title":"US Secretary of State Antony Blinken shows support for Kazakhstan"' in found.stdout


def test_unreadable_message_goes_to_dlq_and_the_next_article_is_indexed(pipeline_env):
    env, settings, start = pipeline_env
    start()
    from streams.publish import ensure_topics

    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    bad = b"\x00\x01\x02\xff\xfe binary junk \x00"
    producer.send(settings.topic_raw, key=b"bad-1", value=bad).get(timeout=30)
    producer.send(settings.topic_raw, key=b"good-1", value=RFI.read_bytes()).get(timeout=30)
    producer.close()

    letters = wait_for(lambda: read_dead_letters(settings, timeout_s=2), 120, what="a dead letter")
    assert len(letters) == 1
    letter = letters[0]
    assert letter.stage == "parse"
    assert letter.topic == settings.topic_raw
    assert letter.key == "bad-1"
    assert letter.original_bytes() == bad
    assert "binary" in letter.reason.lower()
    assert letter.error == "ParseRejected"

    hits = wait_for(lambda: indexed_docs(settings), 180, what="the good article indexed")
    assert [h["_source"]["title"] for h in hits] == ["US Secretary of State Antony Blinken shows support for Kazakhstan"]
