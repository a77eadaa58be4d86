"""BulkWriter on the real cluster: bulk requests in flight together, and one _id twice in a batch.

Several bulk requests of one batch run at once (``max_in_flight``), and
requests in flight together may be applied in any order. These tests pin
what the writer promises anyway: the last version of an article in a batch
is the one left in the index, and a broken newer version does not cost the
valid older one.
"""

from __future__ import annotations

import asyncio

import pytest
from elasticsearch import AsyncElasticsearch

from indexers.elasticsearch.client import connection_options, sync_client
from indexers.elasticsearch.template import ensure_index
from indexers.elasticsearch.writer import BulkWriter
from tests.conftest import indexed_docs


def doc(i: int, title: str, published_at: str = "2024-05-01") -> tuple[str, dict]:
    return f"doc-{i:05d}", {
        "id": f"doc-{i:05d}",
        "body": f"Article number {i} about the harbour of Lisbon.",
        "content_type": "text",
        "title": title,
        "published_at": published_at,
    }


class CountingClient(AsyncElasticsearch):
    """A real client that records how many bulk requests were in flight at once."""

    in_flight = 0
    most_in_flight = 0
    requests = 0

    async def bulk(self, *args, **kwargs):
        type(self).in_flight += 1
        type(self).requests += 1
        type(self).most_in_flight = max(type(self).most_in_flight, type(self).in_flight)
        try:
            return await super().bulk(*args, **kwargs)
        finally:
            type(self).in_flight -= 1


def write(settings, docs, **kw):
    async def run():
        client = CountingClient(**connection_options(settings), request_timeout=60)
        CountingClient.in_flight = CountingClient.most_in_flight = CountingClient.requests = 0
        try:
            return await BulkWriter(client, settings.index_alias, **kw).write(docs)
        finally:
            await client.close()

    ensure_index(sync_client(settings), settings.index_alias)
    return asyncio.run(run())


def test_chunks_of_one_batch_are_sent_concurrently_and_all_indexed(pipeline_env):
    _, settings, _ = pipeline_env
    docs = [doc(i, f"Article {i}") for i in range(400)]
    result = write(settings, docs, max_docs=50, max_in_flight=3)
    assert (result.indexed, result.failures) == (400, [])
    assert CountingClient.requests == 8
    assert CountingClient.most_in_flight == 3
    assert len(indexed_docs(settings)) == 400


def test_one_request_at_a_time_when_max_in_flight_is_one(pipeline_env):
    _, settings, _ = pipeline_env
    result = write(settings, [doc(i, f"Article {i}") for i in range(120)], max_docs=50, max_in_flight=1)
    assert result.indexed == 120
    assert (CountingClient.requests, CountingClient.most_in_flight) == (3, 1)


def test_max_in_flight_below_one_is_refused():
    with pytest.raises(ValueError, match="max_in_flight must be at least 1"):
        BulkWriter(None, "articles", max_in_flight=0)  # type: ignore[arg-type]  # refused before any client is used


def test_the_last_version_of_an_id_in_a_batch_is_the_one_indexed(pipeline_env):
    _, settings, _ = pipeline_env
    # version 1 of doc 7 early in the batch, version 3 last: in different chunks
    docs = [doc(7, "version 1")] + [doc(i, f"Article {i}") for i in range(100, 160)]
    docs += [doc(7, "version 2")] + [doc(i, f"Article {i}") for i in range(200, 260)] + [doc(7, "version 3")]
    result = write(settings, docs, max_docs=20, max_in_flight=4)
    assert (result.indexed, result.failures) == (len(docs), [])
    hits = {h["_id"]: h["_source"] for h in indexed_docs(settings)}
    assert len(hits) == 121
    assert hits["doc-00007"]["title"] == "version 3"


def test_a_refused_newer_version_does_not_cost_the_valid_older_one(pipeline_env):
    _, settings, _ = pipeline_env
    docs = [doc(1, "good old"), doc(2, "other"), doc(1, "broken new", published_at="c1992")]
    result = write(settings, docs, max_docs=2, max_in_flight=2, initial_backoff=0.01)
    assert result.indexed == 2
    assert [(f.position, f.doc_id) for f in result.failures] == [(2, "doc-00001")]
    assert result.failures[0].error_type in ("document_parsing_exception", "mapper_parsing_exception")
    hits = {h["_id"]: h["_source"]["title"] for h in indexed_docs(settings)}
    assert hits == {"doc-00001": "good old", "doc-00002": "other"}


@pytest.mark.parametrize(
    "dates, refused, title",
    [
        (["c1992", "2024-05-01", "c1992"], [0, 2], "v1"),
        (["2024-05-01", "c1992", "2024-05-01"], [1], "v2"),
        (["c1992", "c1992", "c1992"], [0, 1, 2], None),
    ],
)
def test_every_refused_version_of_an_id_is_reported(pipeline_env, dates, refused, title):
    _, settings, _ = pipeline_env
    docs = []
    for v, date in enumerate(dates):  # three versions of doc 5, other ids between them
        docs.append(doc(5, f"v{v}", published_at=date))
        docs += [doc(100 * (v + 1) + i, f"Article {i}") for i in range(7)]
    result = write(settings, docs, max_docs=4, max_in_flight=3, initial_backoff=0.01)
    assert [docs[f.position][1]["title"] for f in result.failures] == [f"v{v}" for v in refused]
    assert all(f.doc_id == "doc-00005" for f in result.failures)
    assert result.indexed + len(result.failures) == len(docs)
    hits = {h["_id"]: h["_source"]["title"] for h in indexed_docs(settings)}
    assert len(hits) == 21 + (title is not None)
    assert hits.get("doc-00005") == title
