"""A blocked index is an outage, not bad documents (issue 20): the real Elasticsearch with the
block it sets at the flood-stage disk watermark (``index.blocks.read_only_allow_delete``, HTTP
429) and an operator's write block (``index.blocks.write``, HTTP 403)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from indexers.elasticsearch.client import async_client, sync_client
from indexers.elasticsearch.template import ensure_index
from indexers.elasticsearch.writer import BulkWriter
from streams.delivery.deadletters import read_dead_letters
from tests.conftest import wait_for
from tests.e2e.test_budgets import metric
from tests.e2e.test_observe import free_port
from tests.indexing.test_delivery import count, enriched, publish_enriched

BLOCKS = ["index.blocks.read_only_allow_delete", "index.blocks.write"]


def _block(settings, block: str, on: bool) -> None:
    es = sync_client(settings)
    try:
        es.indices.put_settings(index=settings.index_alias, settings={block: True if on else None})
    finally:
        es.close()


@pytest.mark.parametrize("block", BLOCKS)
def test_the_writer_waits_out_a_block_and_writes_the_batch_when_it_is_lifted(pipeline_env, caplog, block):
    _env, settings, _ = pipeline_env
    ensure_index(sync_client(settings), settings.index_alias)
    docs = [(f"doc-{i}", {"title": f"Article {i}", "body": "Ferries of Lisbon."}) for i in range(50)]
    _block(settings, block, True)
    caplog.set_level(logging.WARNING, logger="indexers.elasticsearch.writer")

    async def run():
        client = async_client(settings)
        # 20 tries of an item at 0.2 to 1 s apart took about 17 s, then every document was a failure
        writer = BulkWriter(client, settings.index_alias, initial_backoff=0.2, max_backoff=1.0)
        try:
            task = asyncio.ensure_future(writer.write(docs))
            await asyncio.sleep(30)
            waiting = not task.done()
            _block(settings, block, False)
            started = time.monotonic()
            result = await asyncio.wait_for(task, 60)
            return waiting, result, time.monotonic() - started
        finally:
            await client.close()

    waiting, result, caught_up_in = asyncio.run(run())
    assert waiting, "the writer gave up while the index was blocked"
    assert result.failures == [] and result.indexed == 50
    assert caught_up_in < 10
    assert count(settings) == 50
    messages = [r.getMessage() for r in caplog.records]
    assert any("cluster_block_exception" in m and "waiting for the block to be lifted" in m for m in messages)
    assert any("the index is writable again after" in m for m in messages)


def test_a_worker_waits_out_a_flood_stage_block_commits_nothing_and_catches_up(pipeline_env):
    _env, settings, start = pipeline_env
    port = free_port()
    worker = start(only=["index"], NEWSSTREAM_BULK_RETRY_MAX_SECONDS="1", NEWSSTREAM_METRICS_PORT=str(port))
    wait_for(lambda: "Worker ready" in worker.log_tail(100_000), 120, what="the worker to start")
    _block(settings, "index.blocks.read_only_allow_delete", True)  # as the flood-stage watermark does
    publish_enriched(settings, [enriched(i) for i in range(200)])
    wait_for(lambda: "cluster_block_exception" in worker.log_tail(100_000), 120, what="the block in the log")
    time.sleep(25)  # with the 1 s cap, 20 tries would have dead-lettered every document by now
    assert count(settings) == 0
    assert read_dead_letters(settings, timeout_s=2) == []
    assert metric(port, "newsstream_index_blocked") == 1.0
    assert (metric(port, "newsstream_bulk_items_retried_total", cause="cluster_block") or 0) >= 200
    _block(settings, "index.blocks.read_only_allow_delete", False)
    wait_for(lambda: count(settings) == 200, 120, what=f"all 200 after the block; log:\n{worker.log_tail()}")
    assert read_dead_letters(settings, timeout_s=2) == []
    log = worker.log.read_text(errors="replace")
    assert "waiting for the block to be lifted" in log and "the index is writable again after" in log
    assert metric(port, "newsstream_index_blocked") == 0.0
    assert metric(port, "newsstream_dead_letters_total", stage="index", reason="es_rejected") == 0.0
    assert worker.alive()
