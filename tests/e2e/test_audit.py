"""``newsstream audit`` on the real Kafka and Elasticsearch: published = indexed + dead-lettered on a
healthy run; documents deleted on purpose are named exactly as missing; two documents of one article
are duplicates; ``--since`` audits from a moment."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from indexers.elasticsearch.client import sync_client
from streams import kafka
from streams.audit import audit, parse_since, wait_drained
from streams.publish import ensure_topics
from tests.conftest import run_cli
from tests.variants import variants


def _drained(settings, timeout: float = 300) -> None:
    lag = wait_drained(settings, timeout)
    assert lag is not None and not any(lag.values()), lag


def _publish(settings, messages: Sequence[tuple[bytes | None, bytes]]) -> list[tuple[int, int]]:
    """Send ``(key, value)`` messages; return each one's ``(partition, offset)``."""
    producer = kafka.producer(settings)
    futures = [producer.send(settings.topic_raw, key=k, value=v) for k, v in messages]
    producer.flush()
    meta = [f.get(timeout=30) for f in futures]
    producer.close()
    return [(m.partition, m.offset) for m in meta]


def test_healthy_run_then_documents_deleted_on_purpose_are_named_exactly(pipeline_env):
    env, settings, start = pipeline_env
    ensure_topics(settings)
    start()
    articles = variants(40, "audit")
    other_key = [(b"another-key-" + k, v) for k, v in articles[:2]]  # one article under two keys
    keyless: list[tuple[bytes | None, bytes]] = [(None, v) for _, v in variants(43, "audit")[40:]]  # as kcat: no key
    bad = [(b"bad-1", b'{"nothing": "here"}'), (b"bad-2", b"   ")]
    positions = _publish(settings, [*articles, *keyless, *bad])
    positions += _publish(settings, other_key)  # after the first versions: their documents keep the first key
    _drained(settings)

    out = run_cli(env, "audit", "--json", timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    print(f"[audit] healthy: { {k: report[k] for k in ('published', 'indexed', 'dead_lettered', 'missing')} }")
    assert report["published"] == 47 == report["indexed"] + report["dead_lettered"]
    assert (report["indexed"], report["dead_lettered"], report["missing"], report["duplicates"]) == (45, 2, 0, 0)
    assert report["dead_lettered_by"] == {"parse: not an article envelope": 1, "parse: empty message": 1}
    assert report["matched_by_id"] == 2  # the second versions of the article published under two keys
    assert report["without_key"] == 3
    assert report["documents"] == 43  # 40 + 3 articles: the two re-keyed ones are the documents they were

    # delete three documents: the audit names exactly those articles, with their topic/partition/offset
    es = sync_client(settings)
    gone = {i: articles[i] for i in (5, 17, 33)}
    ids = {}  # the article id of each: the parse stage's (from the URL), found by the message's key
    for i, (key, _) in gone.items():
        [hit] = es.search(index=settings.index_alias, query={"term": {"raw_key": key.decode()}})["hits"]["hits"]
        ids[i] = hit["_id"]
        es.delete(index=settings.index_alias, id=hit["_id"], refresh=True)
    out = run_cli(env, "audit", "--json", timeout=120)
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["missing"] == 3 and report["published"] == 47 and report["indexed"] == 42
    named = {(m["partition"], m["offset"], m["key"], m["article_id"]) for m in report["missing_listed"]}
    assert named == {(*positions[i], k.decode(), ids[i]) for i, (k, _) in gone.items()}
    assert all(m["topic"] == settings.topic_raw for m in report["missing_listed"])

    text = run_cli(env, "audit", timeout=120)
    assert text.returncode == 1
    for i, (key, _) in gone.items():
        partition, offset = positions[i]
        assert f"{settings.topic_raw}/{partition}@{offset}  key={key.decode()}  id={ids[i]}" in text.stdout
    assert "missing        3" in text.stdout and "published      47" in text.stdout


def test_two_documents_of_one_article_are_duplicates_and_since_audits_from_a_moment(pipeline_env):
    env, settings, start = pipeline_env
    ensure_topics(settings)
    start()
    first = variants(20, "dup")
    _publish(settings, first)
    _drained(settings)
    es = sync_client(settings)
    key = first[3][0].decode()
    [hit] = es.search(index=settings.index_alias, query={"term": {"raw_key": key}})["hits"]["hits"]
    doc_id = hit["_id"]
    es.index(index=settings.index_alias, id=f"copy-of-{doc_id}", document=hit["_source"], refresh=True)  # a second
    report = audit(settings)
    assert (report.published, report.indexed, report.missing, report.duplicates) == (20, 20, 0, 1)
    assert [(d.key, d.document_ids) for d in report.duplicates_listed] == [(key, sorted([doc_id, f"copy-of-{doc_id}"]))]
    assert not report.ok

    time.sleep(1.5)  # message timestamps are milliseconds: a clear gap
    moment = datetime.now(UTC)
    later = variants(30, "dup")[20:]
    _publish(settings, later)
    _drained(settings)
    since = audit(settings, moment)
    assert (since.published, since.indexed, since.missing, since.duplicates) == (10, 10, 0, 0)
    assert sum(end - start for start, end in since.offsets.values()) == 10
    out = run_cli(env, "audit", "--since", moment.isoformat(), timeout=120)
    assert out.returncode == 0 and "published      10" in out.stdout, out.stdout + out.stderr
    bad = run_cli(env, "audit", "--since", "yesterday-ish", timeout=60)
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        "error: --since 'yesterday-ish' is neither an ISO 8601 date or time nor a duration such as 30m, 2h or 7d"
    )


def test_since_reads_iso_times_and_durations():
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("2026-04-30", now) == datetime(2026, 4, 30, tzinfo=UTC)
    assert parse_since("2026-04-30T10:00:00+02:00", now) == datetime(2026, 4, 30, 8, tzinfo=UTC)
    assert parse_since("2026-04-30T10:00Z", now) == datetime(2026, 4, 30, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="--since 'soon'"):
        parse_since("soon", now)


@pytest.mark.services
def test_an_unreachable_elasticsearch_or_kafka_is_one_line_naming_it(services):
    down_es = run_cli({"NEWSSTREAM_ELASTICSEARCH_URL": "http://127.0.0.1:1"}, "audit", timeout=60)
    assert down_es.returncode == 1
    assert down_es.stderr.startswith("error: Elasticsearch at http://127.0.0.1:1: unreachable")
    assert len(down_es.stderr.strip().splitlines()) == 1 and down_es.stdout == ""
    down_kafka = run_cli({"NEWSSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:1"}, "audit", timeout=60)
    assert down_kafka.returncode == 1
    assert down_kafka.stderr.startswith("error: Kafka at 127.0.0.1:1 (PLAINTEXT): unreachable: connection refused")
    assert down_kafka.stderr.rstrip().endswith("(try: newsstream services up)")
    assert len(down_kafka.stderr.strip().splitlines()) == 1 and down_kafka.stdout == ""
