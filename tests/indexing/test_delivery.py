"""Delivery into Elasticsearch, with real faults against the real services (issue 5).

Most tests feed enriched records straight to the enriched topic and run only
the index agent (``--only index``): the indexer is what they test, and it
keeps them fast. Tests that stop Elasticsearch need the one newsstream
started; they restore it as they found it.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time

import pytest

from indexers.elasticsearch.client import async_client, sync_client
from indexers.elasticsearch.template import ensure_index
from indexers.elasticsearch.writer import BulkWriter
from streams import kafka
from streams.delivery.deadletters import read_dead_letters
from streams.local import services as svc
from streams.local.processes import read_pid
from streams.publish import ensure_topics
from streams.records import EnrichedArticle
from tests.conftest import RFI, indexed_docs, run_cli, wait_for


def enriched(i: int, published_at: str = "2024-05-01") -> EnrichedArticle:
    return EnrichedArticle(
        id=f"doc-{i:05d}",
        body=f"Article number {i} about the harbour of Lisbon and its ferries.",
        content_type="text",
        title=f"Article {i}",
        published_at=published_at,
        persons=["Ana Costa"],
        places=["Lisbon"],
        countries=["PT"],
        tags=["Ferries"],
    )


def publish_enriched(settings, records) -> None:
    ensure_topics(settings)
    producer = kafka.producer(settings)
    futures = [producer.send(settings.topic_enriched, key=r.id.encode(), value=r.to_bytes()) for r in records]
    producer.flush()
    for f in futures:
        f.get(timeout=30)
    producer.close()


def count(settings) -> int:
    es = sync_client(settings)
    try:
        es.indices.refresh(index=settings.index_alias)
        return es.count(index=settings.index_alias)["count"]
    except Exception:
        return -1


def test_same_article_published_twice_is_one_document(pipeline_env):
    env, settings, start = pipeline_env
    worker = start()
    for _ in range(2):
        out = run_cli(env, "publish", str(RFI))
        assert out.returncode == 0, out.stderr

    # wait until both copies went through the index agent (its log counts them:
    # two copies in one batch are one write of the last, two batches two writes)
    def handled():
        return sum(int(n) for n in re.findall(r"indexed batch: count=(\d+)", worker.log.read_text())) >= 2

    wait_for(handled, 180, what=f"both copies indexed; log:\n{worker.log_tail()}")
    hits = indexed_docs(settings)
    assert len(hits) == 1
    assert hits[0]["_source"]["title"] == "US Secretary of State Antony Blinken shows support for Kazakhstan"
    assert sync_client(settings).get(index=settings.index_alias, id=hits[0]["_id"])["_version"] in (
        1,
        2,
    )


def test_rejected_documents_dead_lettered_and_the_rest_indexed(pipeline_env):
    _env, settings, start = pipeline_env
    worker = start(only=["index"], NEWSSTREAM_BULK_MAX_DOCS="250")
    records = [enriched(i, "c1992" if i in (137, 842) else "2024-05-01") for i in range(1000)]
    publish_enriched(settings, records)
    wait_for(lambda: count(settings) == 998, 180, what=f"998 documents; log:\n{worker.log_tail()}")
    letters = wait_for(
        lambda: (d := read_dead_letters(settings, timeout_s=2)) and len(d) >= 2 and d, 60, what="2 dead letters"
    )
    assert len(letters) == 2
    assert sorted(d.key for d in letters) == ["doc-00137", "doc-00842"]
    for d in letters:
        assert d.stage == "index"
        # Elasticsearch 8+ names mapper_parsing_exception document_parsing_exception
        assert d.error in ("document_parsing_exception", "mapper_parsing_exception")
        assert "published_at" in d.reason and "c1992" in d.reason
        assert EnrichedArticle.from_bytes(d.original_bytes()).published_at == "c1992"
    # and the next batch is indexed too
    publish_enriched(settings, [enriched(i) for i in range(1000, 1100)])
    wait_for(lambda: count(settings) == 1098, 120, what="the next batch")
    assert len(read_dead_letters(settings, timeout_s=2)) == 2


def test_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(pipeline_env):
    _env, settings, start = pipeline_env
    n = 6000
    publish_enriched(settings, [enriched(i) for i in range(n)])
    first = start(only=["index"], NEWSSTREAM_BULK_MAX_DOCS="100")
    wait_for(lambda: 0 < count(settings) < n and count(settings), 180, interval=0.05, what="some documents indexed")
    first.kill()  # SIGKILL: no shutdown, no commit of the batch in flight
    after_kill = count(settings)
    assert after_kill < n, "the worker finished before it was killed: nothing was tested"
    start(only=["index"], NEWSSTREAM_BULK_MAX_DOCS="100")
    wait_for(lambda: count(settings) == n, 300, what="all documents after the restart")
    time.sleep(2)  # anything still in flight would show now
    assert count(settings) == n
    assert read_dead_letters(settings, timeout_s=2) == []
    ids = {h["_id"] for h in indexed_docs(settings, size=n)}
    assert len(ids) == n


# ------------------------------------------------------------------ faults of Elasticsearch itself


@pytest.fixture
def own_elasticsearch(services):
    """The Elasticsearch newsstream started, restored (plain settings, healthy) after the test."""
    if read_pid(services, "elasticsearch") is None:
        pytest.skip("Elasticsearch was not started by newsstream here, so the test cannot stop it")
    yield services
    if not svc.elasticsearch_healthy(services) or _write_queue(services) != _DEFAULT_QUEUE[0]:
        svc.stop(services, "elasticsearch")
        svc.up(services, echo=lambda m: None)


_DEFAULT_QUEUE: list[int | None] = [None]


def _write_queue(settings) -> int:
    es = sync_client(settings)
    info = es.nodes.info(metric="thread_pool")
    node = next(iter(info["nodes"].values()))
    return node["thread_pool"]["write"]["queue_size"]


def test_elasticsearch_stopped_while_articles_flow(own_elasticsearch, pipeline_env):
    _env, settings, start = pipeline_env
    _DEFAULT_QUEUE[0] = _write_queue(settings)
    worker = start(only=["index"], NEWSSTREAM_BULK_RETRY_MAX_SECONDS="2")
    publish_enriched(settings, [enriched(i) for i in range(300)])
    wait_for(lambda: count(settings) == 300, 120, what="the first 300")
    svc.stop(settings, "elasticsearch")
    assert not svc.elasticsearch_healthy(settings, timeout=1)
    publish_enriched(settings, [enriched(i) for i in range(300, 700)])
    time.sleep(8)  # the worker meets a dead cluster and retries
    assert worker.alive()
    svc.up(settings, echo=lambda m: None)
    wait_for(lambda: count(settings) == 700, 180, what=f"all 700 after the restart; log:\n{worker.log_tail()}")
    assert read_dead_letters(settings, timeout_s=2) == []
    assert "to retry (connection" in worker.log.read_text()


def test_worker_stopped_while_elasticsearch_is_away_exits_and_loses_nothing(own_elasticsearch, pipeline_env):
    _env, settings, start = pipeline_env
    _DEFAULT_QUEUE[0] = _DEFAULT_QUEUE[0] or _write_queue(settings)
    worker = start(only=["index"], NEWSSTREAM_BULK_RETRY_MAX_SECONDS="1")
    publish_enriched(settings, [enriched(i) for i in range(100)])
    wait_for(lambda: count(settings) == 100, 120, what="the first 100")
    svc.stop(settings, "elasticsearch")
    publish_enriched(settings, [enriched(i) for i in range(100, 300)])
    wait_for(lambda: "to retry (connection" in worker.log.read_text(), 120, what="a retry against the dead cluster")
    # SIGTERM with a batch taken and not written: the worker must exit, not wait for ever
    worker.proc.send_signal(signal.SIGTERM)
    worker.proc.wait(timeout=45)
    assert "Task exception was never retrieved" not in worker.log.read_text()
    svc.up(settings, echo=lambda m: None)
    start(only=["index"])
    wait_for(lambda: count(settings) == 300, 180, what="all 300 after the restart")
    assert read_dead_letters(settings, timeout_s=2) == []


def test_item_level_429_rejections_are_retried(own_elasticsearch):
    settings = own_elasticsearch
    _DEFAULT_QUEUE[0] = _DEFAULT_QUEUE[0] or _write_queue(settings)
    svc.stop(settings, "elasticsearch")
    svc.up(settings, echo=lambda m: None, es_extra={"thread_pool.write.size": "1", "thread_pool.write.queue_size": "1"})
    assert _write_queue(settings) == 1
    alias = "t429-articles"
    sync = sync_client(settings)
    ensure_index(sync, alias)

    async def run() -> list:
        client = async_client(settings)
        writer = BulkWriter(client, alias, max_docs=50, initial_backoff=0.05, max_backoff=0.5, max_item_retries=1000)
        docs = [(f"doc-{w}-{i}", {**enriched(i).to_dict(), "id": f"doc-{w}-{i}"}) for w in range(8) for i in range(400)]
        for _, d in docs:
            d.pop("extra")
        # eight writers at once against a write pool of one thread and one queue slot
        results = await asyncio.gather(*(writer.write(docs[w * 400 : (w + 1) * 400]) for w in range(8)))
        await client.close()
        return results

    try:
        results = asyncio.run(run())
        sync.indices.refresh(index=alias)
        assert sync.count(index=alias)["count"] == 3200
        assert sum(r.indexed for r in results) == 3200
        assert all(r.failures == [] for r in results)
        assert max(r.attempts for r in results) > 1, "no 429 was met: the write queue was not tiny enough"
    finally:
        sync.indices.delete(index=f"{alias}-v*", ignore_unavailable=True, allow_no_indices=True)
        sync.options(ignore_status=404).indices.delete_index_template(name=alias)
