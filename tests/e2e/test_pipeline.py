"""End to end, on the real Kafka and Elasticsearch: raw article in, document out, bad message to the DLQ."""

from __future__ import annotations

from streams import kafka
from streams.delivery.deadletters import read_dead_letters
from streams.publish import ensure_topics
from tests.conftest import RFI, indexed_docs, run_cli, text_article, wait_for


def test_published_article_is_parsed_enriched_and_indexed(pipeline_env):
    env, settings, start = pipeline_env
    worker = start()
    # publish with the CLI, as a user would
    out = run_cli(env, "publish", str(RFI))
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
    found = run_cli(env, "search", "Kazakhstan", "--json", timeout=60)
    assert found.returncode == 0, found.stderr
    assert '"title":"US Secretary of State Antony Blinken shows support for Kazakhstan"' in found.stdout

    # SIGTERM: the worker stops cleanly, its Elasticsearch client closed
    worker.stop()
    assert worker.proc.returncode == 0, worker.log_tail()
    log = worker.log.read_text(errors="replace")
    assert "Unclosed client session" not in log and "Unclosed connector" not in log, log[-3000:]


def test_unreadable_message_goes_to_dlq_and_the_next_article_is_indexed(pipeline_env):
    _env, settings, start = pipeline_env
    start()
    ensure_topics(settings)
    producer = kafka.producer(settings)
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
    assert [h["_source"]["title"] for h in hits] == [
        "US Secretary of State Antony Blinken shows support for Kazakhstan"
    ]


def test_oversized_records_are_dead_lettered_and_the_stream_goes_on(pipeline_env):
    """A parsed record over the message limit, and a binary message whose dead letter
    would be over it: both dead-lettered (the second with its bytes cut), the next article indexed."""
    _env, settings, start = pipeline_env
    ensure_topics(settings)  # topics accept the default 8 MiB; the worker below is told 10 kB
    worker = start(NEWSSTREAM_MAX_MESSAGE_BYTES="10000")
    long_article = text_article(
        "Port of Lisbon publishes its yearly report on ferries",
        [
            f"Paragraph {i}: the ferries of the port of Lisbon carried many passengers across the river this year."
            for i in range(150)
        ],
    )
    assert len(long_article) > 10000
    binary = bytes(range(256)) * 3000  # 768,000 bytes
    producer = kafka.producer(settings, max_request_size=2_000_000)
    for key, value in (
        (b"k", long_article),
        (b"k", binary),
        (b"k", RFI.read_bytes()),
    ):  # one key: one partition, in order
        producer.send(settings.topic_raw, key=key, value=value).get(timeout=30)
    producer.close()

    hits = wait_for(lambda: indexed_docs(settings), 180, what=f"the last article indexed; log:\n{worker.log_tail()}")
    assert [h["_source"]["title"] for h in hits] == [
        "US Secretary of State Antony Blinken shows support for Kazakhstan"
    ]
    letters = wait_for(
        lambda: (d := read_dead_letters(settings, timeout_s=2)) and len(d) == 2 and d, 60, what="2 dead letters"
    )
    big, junk = sorted(letters, key=lambda d: d.offset)
    assert big.stage == "parse" and big.error == "MessageTooLarge"
    assert "output record too large" in big.reason and "NEWSSTREAM_MAX_MESSAGE_BYTES" in big.reason
    budget = (10000 - 8192) * 3 // 4  # what a 10 kB letter can carry of the original
    assert big.original_size == len(long_article) and big.original_truncated
    assert big.original_bytes() == long_article[:budget]
    assert junk.reason == "binary input"
    assert junk.original_size == len(binary) and junk.original_truncated
    assert junk.original_bytes() == binary[:budget]
    assert worker.alive()
