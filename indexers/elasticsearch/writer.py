"""Bulk writer: the indexer agent's sink into Elasticsearch.

:class:`BulkWriter.write` takes one batch of documents and returns only when
Elasticsearch has acknowledged every one of them, as indexed or as a
permanent per-item error; the agent commits the batch's Kafka offsets after
that, never before (elasticsearch-py's ``streaming_bulk`` model: per-item
``(ok, item)`` results, transport errors kept apart from item errors).

* ``_id`` is the article's stable id, so a replay after a crash overwrites
  instead of duplicating.
* Only the failed items are retried, with exponential backoff
  (``initial * 2**attempt`` seconds, capped at ``max_backoff``): on HTTP 429
  (write queue full), 5xx, and connection errors or timeouts.
* Connection errors are retried without limit: when Elasticsearch is away the
  writer waits, and the batch is written when it returns. 429 and 5xx item
  errors are retried ``max_item_retries`` times, then reported as failures.
* A cluster block (``cluster_block_exception``, 429 or 403: the index made
  read-only at the flood-stage disk watermark, ``index.blocks.read_only_allow_delete``,
  or blocked for writes by an operator) is an outage too, not a bad
  document: the writer waits without limit (the backoff, capped at
  ``max_backoff``; a warning each attempt says what is blocked and for how
  long), nothing is committed meanwhile, and the batch is written when the
  block is lifted. Its documents are never dead-lettered for it; the
  metrics show the wait (``newsstream_index_blocked`` is 1, and
  ``newsstream_bulk_items_retried_total{cause="cluster_block"}`` grows).
* Every other item error (for example ``mapper_parsing_exception``) is
  returned as a :class:`ItemFailure` for the dead-letter topic; the other
  items of the batch are still indexed.
* Each bulk request's duration, the documents sent again (by cause), those
  answered 429, and whether Elasticsearch could be reached at all are
  counted in :mod:`streams.metrics` (the worker's Prometheus metrics).
* A batch larger than one bulk request is sent as several requests, up to
  ``max_in_flight`` of them at once (Kafka Connect's sink calls this
  ``max.in.flight.requests``; its default is 5). One bulk request to a
  one-shard index is indexed by one write thread, so a second request in
  flight lets Elasticsearch use a second core.
* Requests in flight together may be applied in any order, so the versions
  of one ``_id`` in a batch always travel in the same request, in batch
  order (Elasticsearch applies the items of one request to a shard in
  order): the last valid version is the one left in the index, and every
  refused version is reported. When a version has to be retried, the later
  versions of its ``_id`` that were indexed are sent again after it, so the
  order still holds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import orjson
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import AsyncElasticsearch, helpers

from indexers.elasticsearch.client import async_client
from streams import metrics
from streams.settings import Settings

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {429, 500, 502, 503, 504}
CLUSTER_BLOCK = "cluster_block_exception"


def _blocked(err: dict[str, Any]) -> bool:
    """Whether a bulk item error (or a whole-request error, as text) is a cluster block."""
    return CLUSTER_BLOCK in str(err.get("type", "")) or CLUSTER_BLOCK in str(err.get("reason", ""))


class BlockWait:
    """A cluster block waited out (see the module's notes): its start, each retry and its end in
    the log, and ``newsstream_index_blocked`` while it lasts."""

    def __init__(self) -> None:
        self.since: float | None = None  # when the block was first met

    def seen(self, block: str) -> None:
        """After an attempt: ``block`` is the reason of a cluster block met, "" when none was."""
        if block and self.since is None:
            self.since = time.monotonic()
            metrics.set_index_blocked(True)
        elif not block and self.since is not None:
            log.warning("bulk: the index is writable again after %.0f s blocked (%s)", self.waited(), CLUSTER_BLOCK)
            self.end()

    def waited(self) -> float:
        return time.monotonic() - self.since if self.since is not None else 0.0

    def end(self) -> None:
        if self.since is not None:
            self.since = None
            metrics.set_index_blocked(False)

    def log_retry(self, block: str, n: int, total: int, delay: float) -> bool:
        """Log the next try while blocked (True), or nothing (False: no block)."""
        if not block or self.since is None:
            return False
        log.warning(
            "bulk: %s: %s; waiting for the block to be lifted (%.0f s so far), nothing committed: "
            "%d of %d documents, next try in %.1f s",
            *(CLUSTER_BLOCK, block, self.waited(), n, total, delay),
        )
        return True


@dataclass
class ItemFailure:
    """A document Elasticsearch refused for good: its position in the batch, error type and reason."""

    position: int
    doc_id: str
    status: int
    error_type: str
    reason: str


@dataclass
class BulkResult:
    """What became of one batch: documents indexed, failures, bulk attempts and seconds spent."""

    indexed: int = 0
    failures: list[ItemFailure] = field(default_factory=list)
    attempts: int = 0
    seconds: float = 0.0


def _chunks_by_bytes(groups: list[list[int]], sizes: list[int], max_docs: int, max_bytes: int):
    """Pack groups of positions (the versions of one ``_id``) into chunks, never splitting a group.

    ``sizes[pos]`` is the JSON size of document ``pos`` in bytes. A chunk
    closes before the group that would take it past ``max_docs`` documents
    or ``max_bytes``; a group larger than that alone is a chunk of its own.
    """
    chunk: list[int] = []
    size = 0
    for group in groups:
        n = sum(sizes[pos] for pos in group)
        if chunk and (len(chunk) + len(group) > max_docs or size + n > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.extend(group)
        size += n
    if chunk:
        yield chunk


class BulkWriter:
    """Write batches of documents to an index or alias with the async bulk helper.

    Args:
        client: an ``AsyncElasticsearch``.
        index: the alias (or index) to write to.
        max_docs / max_bytes: the most documents / bytes of JSON per bulk request.
        initial_backoff / max_backoff: seconds, for retries.
        max_item_retries: attempts for an item answered 429 or 5xx.
        max_in_flight: bulk requests of one batch sent concurrently (>= 1).
        should_stop: called between retries; when it returns True the writer
            raises :class:`asyncio.CancelledError` so the batch is not acked.
    """

    def __init__(
        self,
        client: AsyncElasticsearch,
        index: str,
        *,
        max_docs: int = 500,
        max_bytes: int = 5 * 1024 * 1024,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_item_retries: int = 20,
        max_in_flight: int = 2,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.client = client
        self.index = index
        self.max_docs = max_docs
        self.max_bytes = max_bytes
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_item_retries = max_item_retries
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        self.max_in_flight = max_in_flight
        self.should_stop = should_stop

    @classmethod
    def from_settings(cls, settings: Settings, should_stop: Callable[[], bool] = lambda: False) -> Self:
        """Set up the writer of the worker's index agent: its own async client
        (:func:`indexers.elasticsearch.client.async_client`; no client-side
        retries, the writer retries) and the bulk and retry settings.
        Close it with :meth:`close`."""
        client = async_client(settings, request_timeout=60, retry_on_timeout=False, max_retries=0)
        return cls(
            client,
            settings.index_alias,
            max_docs=settings.bulk_max_docs,
            max_bytes=settings.bulk_max_bytes,
            max_in_flight=settings.bulk_max_in_flight,
            initial_backoff=settings.bulk_retry_initial_seconds,
            max_backoff=settings.bulk_retry_max_seconds,
            should_stop=should_stop,
        )

    async def close(self) -> None:
        """Close the client (its HTTP session would otherwise be reported as unclosed at exit).

        Never raises: a failed close at shutdown loses nothing.
        """
        try:
            await self.client.close()
        except Exception:
            log.debug("closing the Elasticsearch client failed", exc_info=True)

    def _backoff(self, attempt: int) -> float:
        return min(self.max_backoff, self.initial_backoff * (2 ** max(0, attempt - 1)))

    async def write(self, docs: list[tuple[str, dict[str, Any]]]) -> BulkResult:
        """Index ``docs`` (``[(doc_id, source), ...]``) and wait until all are acknowledged.

        Returns a :class:`BulkResult`; ``failures[i].position`` indexes ``docs``.
        Raises:
            asyncio.CancelledError: ``should_stop()`` became true while retrying.
        """
        started = time.monotonic()
        result = BulkResult()
        versions: dict[str, list[int]] = {}  # _id -> positions in the batch, in order
        for pos, (doc_id, _source) in enumerate(docs):
            versions.setdefault(doc_id, []).append(pos)
        actions = [
            (pos, {"_op_type": "index", "_index": self.index, "_id": doc_id, "_source": source})
            for pos, (doc_id, source) in enumerate(docs)
        ]
        sizes = [len(orjson.dumps(source)) + 100 for _, source in docs]  # + the action line
        status: dict[int, str] = {}  # position -> "ok", "retry" or "failed"
        item_attempts: dict[int, int] = {}
        pending = list(versions.values())  # groups of positions, one group per _id
        attempt = 0
        wait = BlockWait()
        gate = asyncio.Semaphore(self.max_in_flight)  # every attempt's requests are done before the next

        async def send(chunk: list[tuple[int, dict]]) -> list[dict] | BaseException:
            async with gate:
                sent_at = time.monotonic()
                try:
                    items = await _bulk_chunk(self.client, chunk)
                except (TimeoutError, TransportConnectionError, ConnectionTimeout, ConnectionError) as exc:
                    metrics.observe_bulk_request(time.monotonic() - sent_at, reached=False)
                    return exc
                metrics.observe_bulk_request(time.monotonic() - sent_at, reached=True)
                return items

        while pending:
            attempt += 1
            result.attempts = attempt
            reason = ""
            block = ""
            chunks = [
                [actions[pos] for pos in chunk]
                for chunk in _chunks_by_bytes(pending, sizes, self.max_docs, self.max_bytes)
            ]

            answers = await asyncio.gather(*(send(chunk) for chunk in chunks))
            causes = {
                "http_429": 0,
                "http_5xx": 0,
                "connection": 0,
                "cluster_block": 0,
            }  # documents to send again, by cause
            throttled = 0
            for chunk, items in zip(chunks, answers):
                if isinstance(items, BaseException):
                    for pos, _action in chunk:
                        status[pos] = "retry"
                    causes["connection"] += len(chunk)
                    reason = f"connection: {items.__class__.__name__}"
                    continue
                for (pos, action), item in zip(chunk, items):
                    info = item.get("index", {})
                    try:
                        code = int(info.get("status", 0))
                    except (TypeError, ValueError):  # "N/A": no HTTP answer
                        code = 503
                    if 200 <= code < 300:
                        status[pos] = "ok"
                        continue
                    err = info.get("error") or {}
                    if isinstance(err, str):  # a whole-request error, from the helper
                        err = {"type": info.get("exception").__class__.__name__, "reason": err}
                    if _blocked(err):  # an outage, not a bad document: no limit
                        status[pos] = "retry"
                        block = str(err.get("reason", ""))[:300] or CLUSTER_BLOCK
                        causes["cluster_block"] += 1
                        continue
                    if code == 429:
                        throttled += 1
                    if code in RETRYABLE_STATUS:
                        item_attempts[pos] = item_attempts.get(pos, 0) + 1
                        if item_attempts[pos] < self.max_item_retries:
                            status[pos] = "retry"
                            causes["http_429" if code == 429 else "http_5xx"] += 1
                            reason = f"item HTTP {code}"
                            continue
                    status[pos] = "failed"
                    result.failures.append(
                        ItemFailure(
                            position=pos,
                            doc_id=action["_id"],
                            status=code,
                            error_type=str(err.get("type", f"http_{code}")),
                            reason=str(err.get("reason", ""))[:2000],
                        )
                    )
            metrics.count_throttled(throttled)
            for cause, n in causes.items():
                metrics.count_bulk_retried(cause, n)
            # again: from the first version to retry on, each version not refused for good
            retry = []
            for group in pending:
                first = next((i for i, pos in enumerate(group) if status[pos] == "retry"), None)
                if first is not None:
                    retry.append([pos for pos in group[first:] if status[pos] != "failed"])
            pending = retry
            wait.seen(block)
            if pending:
                if self.should_stop():
                    wait.end()
                    raise asyncio.CancelledError("stopping with an unacknowledged batch")
                delay = self._backoff(attempt)
                n = sum(len(group) for group in pending)
                if not wait.log_retry(block, n, len(docs), delay):
                    log.warning("bulk: %d of %d documents to retry (%s), in %.1f s", n, len(docs), reason, delay)
                await asyncio.sleep(delay)
        result.indexed = sum(1 for s in status.values() if s == "ok")
        result.failures.sort(key=lambda f: f.position)
        result.seconds = time.monotonic() - started
        return result


async def _bulk_chunk(client: AsyncElasticsearch, chunk: list[tuple[int, dict]]) -> list[dict]:
    """Send one bulk request with the async helper, no retries; return its items in order.

    A whole-request HTTP error (429, 5xx) comes back as that status on every
    item; a connection error or timeout is raised.
    """
    items: list[dict] = []
    async for _ok, item in helpers.async_streaming_bulk(
        client,
        [action for _, action in chunk],
        chunk_size=len(chunk),
        max_chunk_bytes=1 << 40,
        max_retries=0,
        raise_on_error=False,
        raise_on_exception=False,
        yield_ok=True,
    ):
        items.append(item)
    return items


async def bare_async_bulk(client: AsyncElasticsearch, index: str, docs: list[tuple[str, dict]], chunk_size: int = 500):
    """Index ``docs`` with the plain ``helpers.async_bulk`` (the benchmark's baseline).

    Returns ``(successes, errors)`` as the helper does.
    """
    actions = ({"_index": index, "_id": i, "_source": s} for i, s in docs)
    return await helpers.async_bulk(client, actions, chunk_size=chunk_size, raise_on_error=False)


def to_document(record: dict[str, Any], ingested_at: str) -> tuple[str, dict[str, Any]]:
    """Turn an enriched article (as a dict) into ``(doc_id, source)`` for the index.

    Plugin fields in ``extra`` become top-level fields (their mapping is added
    at worker start); ``ingested_at`` is the ISO 8601 time of indexing.
    """
    source = {k: v for k, v in record.items() if k != "extra" and v is not None}
    source.update(record.get("extra") or {})
    source["ingested_at"] = ingested_at
    return str(record["id"]), source
