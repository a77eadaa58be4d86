"""The index agent's writer, one article one document: :class:`MergingWriter` is a
:class:`indexers.elasticsearch.writer.BulkWriter` (same settings, retries and guarantees) whose
:meth:`MergingWriter.write_merged` merges each input into its article's document field by field
(:mod:`indexers.elasticsearch.merge`: which inputs are one article; a per-field maximum, so order-
and re-delivery-proof)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError

from indexers.elasticsearch import merge, writer
from indexers.elasticsearch.writer import RETRYABLE_STATUS, BulkResult, BulkWriter, ItemFailure
from streams import metrics

log = logging.getLogger(__name__)


class MergingWriter(BulkWriter):
    """A :class:`BulkWriter` that also remembers what it wrote lately, for :meth:`write_merged`'s look-ups."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._block = ""  # the reason of a cluster block the last attempt met, "" when none
        super().__init__(*args, **kwargs)
        self._recent: dict[str, tuple[float, merge.Candidate]] = {}  # written lately (see _lookup)
        self._deleted: dict[str, float] = {}  # taken into another document lately
        self._looked_up = False

    async def write_merged(self, docs: list[tuple[str, dict[str, Any]]]) -> BulkResult:
        """Write ``docs`` (``[(doc_id, source)]``, sources from :func:`to_document`) so that one article is one document.

        Each input goes to its article's document (:func:`merge.resolve`: its id, or a document it is the
        same article as), merged in field by field (:func:`merge.merge`), never overwriting a richer value.
        Returns when every input is in the index or refused for good, like :meth:`write`:

        * The merged document is written with optimistic concurrency (the
          document's ``_seq_no``/``_primary_term`` as read, or ``create``): if
          another writer changed it meanwhile (409), it is read and merged
          again. Merging is a maximum per field, so a re-delivered or
          reordered input changes nothing more.
        * Documents taken into another (a text copy whose HTML page came
          later) are deleted after the merged document is written, with the
          same check; a crash in between leaves the two, and the re-delivered
          batch takes the second in again.
        * A merged document Elasticsearch refuses (a bad date) is written again
          input by input, so only the inputs refused alone are failures.
        * 429, 5xx and connection errors are retried as :meth:`write` does; a cluster block is waited out.

        Raises:
            asyncio.CancelledError: ``should_stop()`` became true while retrying.
        """
        started = time.monotonic()
        result = BulkResult()
        status: dict[int, str] = {}
        alone: set[int] = set()  # inputs whose merged document was refused: written one by one
        conflicts: dict[int, int] = {}
        pending = list(range(len(docs)))
        attempt, wait = 0, writer.BlockWait()
        while pending:
            attempt += 1
            result.attempts = attempt
            backoff, reason = False, "version conflict"
            try:
                plans = await self._plan(docs, pending, alone)
            except (TimeoutError, TransportConnectionError, ConnectionTimeout, ConnectionError) as exc:
                plans, backoff, reason = [], True, f"connection: {exc.__class__.__name__}"
            except ApiError as exc:  # 429 or 5xx while looking up or reading: Elasticsearch is busy or recovering
                if exc.meta.status not in RETRYABLE_STATUS:
                    raise
                plans, backoff, reason = [], True, f"look-up HTTP {exc.meta.status}"
            except _NotReadable as exc:
                plans, backoff, reason = [], True, str(exc)
            self._block = ""
            if plans:
                pending, backoff = await self._write_plans(plans, status, alone, conflicts, result)
                reason = "item HTTP 429/5xx or connection" if backoff else reason
            wait.seen(self._block)
            if pending:
                if self.should_stop():
                    wait.end()
                    raise asyncio.CancelledError("stopping with an unacknowledged batch")
                delay = self._backoff(attempt) if backoff else 0.05
                if backoff and not wait.log_retry(self._block, len(pending), len(docs), delay):
                    log.warning(
                        "bulk: %d of %d documents to retry (%s), in %.1f s", len(pending), len(docs), reason, delay
                    )
                await asyncio.sleep(delay)
        result.indexed = sum(1 for s in status.values() if s == "ok")
        result.failures.sort(key=lambda f: f.position)
        result.seconds = time.monotonic() - started
        return result

    async def _plan(self, docs: list[tuple[str, dict[str, Any]]], positions: list[int], alone: set[int]) -> list[_Plan]:
        """Group inputs by the document they go to; read those documents (and the ones they take in)."""
        states = {pos: merge.state(docs[pos][1], docs[pos][0]) for pos in positions}
        cands = {pos: merge.Candidate.of(states[pos]) for pos in positions}
        strong = sorted({k for c in cands.values() if c.strong for k in c.title_keys})
        weak = sorted({k for c in cands.values() if not c.strong for k in c.title_keys})
        ids = sorted({c.id for c in cands.values()})
        found = await self._lookup(strong, weak, ids)
        existing = {c.id for c in found}
        # each input is compared only with the documents and inputs that share a title key with it or
        # hold its id (not with the whole batch: that would be quadratic in the batch size)
        by_key: dict[str, list[merge.Candidate]] = {}
        by_alias: dict[str, list[merge.Candidate]] = {}
        for c in [*found, *cands.values()]:
            for key in c.title_keys:
                by_key.setdefault(key, []).append(c)
            for alias in c.aliases:
                by_alias.setdefault(alias, []).append(c)
        targets: dict[int, merge.Target] = {}
        for pos, cand in cands.items():
            near = {id(c): c for key in cand.title_keys for c in by_key.get(key, [])}
            near.update({id(c): c for c in by_alias.get(cand.id, [])})
            others = [c for c in near.values() if c is not cand and (c.id != cand.id or c.id in existing)]
            targets[pos] = merge.resolve(cand, others, existing)
        # an input sent to another input of the batch goes where that one goes
        by_id = {cands[pos].id: targets[pos].id for pos in positions}
        final: dict[int, str] = {}
        for pos in positions:
            goal = targets[pos].id
            for _ in range(len(by_id)):
                nxt = by_id.get(goal, goal)
                if nxt == goal:
                    break
                goal = nxt
            final[pos] = goal
        groups: dict[str, list[int]] = {}
        for pos in positions:
            groups.setdefault(final[pos], []).append(pos)
        batch_ids = {cands[pos].id: final[pos] for pos in positions}
        plans: list[_Plan] = []
        for target, members in groups.items():
            absorbs = sorted(
                {
                    x
                    for pos in members
                    for x in targets[pos].absorbs
                    if x != target and batch_ids.get(x, target) == target
                }
            )
            if any(pos in alone for pos in members):
                plans += [_Plan(target, [pos], absorbs) for pos in members]
            else:
                plans.append(_Plan(target, members, absorbs))
        read = await self._read(sorted({p.target for p in plans} | {x for p in plans for x in p.absorbs}))
        for plan in plans:
            plan.doc = self._merged(plan, read, states)
        return plans

    def _merged(self, plan: _Plan, read: dict[str, dict[str, Any]], states: dict[int, dict[str, Any]]) -> dict:
        """The document of ``plan``: what the index has for it, the documents it takes in, and its inputs."""
        parts = []
        for doc_id in [plan.target, *plan.absorbs]:
            hit = read.get(doc_id)
            if hit is not None:
                source = hit["_source"]
                parts.append(source if "dedup" in source else merge.state(source, doc_id))
        parts += [states[pos] for pos in plan.positions]
        doc = parts[0]
        for part in parts[1:]:
            doc = merge.merge(doc, part)
        doc = {**doc, "id": plan.target, "aliases": sorted({plan.target, *doc.get("aliases", [])})}
        hit = read.get(plan.target)
        plan.action = {"_index": self.index, "_id": plan.target, "_source": doc}
        if hit is None:
            plan.action["_op_type"] = "create"
        else:
            plan.action.update(_op_type="index", if_seq_no=hit["_seq_no"], if_primary_term=hit["_primary_term"])
        plan.deletes = [
            {
                "_op_type": "delete",
                "_index": self.index,
                "_id": x,
                "if_seq_no": read[x]["_seq_no"],
                "if_primary_term": read[x]["_primary_term"],
            }
            for x in plan.absorbs
            if x in read
        ]
        return doc

    async def _write_plans(
        self,
        plans: list[_Plan],
        status: dict[int, str],
        alone: set[int],
        conflicts: dict[int, int],
        result: BulkResult,
    ) -> tuple[list[int], bool]:
        """Send the plans' documents, then their deletes; return ``(inputs to do again, back off?)``."""
        redo: list[int] = []
        backoff = False
        answers = await self._send([p.action for p in plans])
        written: list[_Plan] = []
        for plan, (code, err) in zip(plans, answers):
            if 200 <= code < 300:
                written.append(plan)
                for pos in plan.positions:
                    status[pos] = "ok"
                self._remember(plan.doc)
            elif code == 409 or code in RETRYABLE_STATUS or code == 0 or writer._blocked(err):
                # 409: the document changed since it was read (or was created meanwhile): read and merge again;
                # 429, 5xx: as write() does, a bounded number of times; 0 (no connection), a block: until it answers
                limit = _MAX_CONFLICTS if code == 409 else self.max_item_retries
                until_it_answers = code == 0 or writer._blocked(err)
                self._block = str(err.get("reason", ""))[:300] or "blocked" if writer._blocked(err) else self._block
                for pos in plan.positions:
                    conflicts[pos] = conflicts.get(pos, 0) + (0 if until_it_answers else 1)
                    if not until_it_answers and conflicts[pos] >= limit:
                        self._fail(result, status, pos, plan.target, code, err)
                    else:
                        redo.append(pos)
                if code != 409:  # the writer's metrics (streams.metrics): documents sent again, by cause
                    cause = "connection" if code == 0 else "cluster_block" if writer._blocked(err) else "http_5xx"
                    cause = "http_429" if cause == "http_5xx" and code == 429 else cause
                    metrics.count_bulk_retried(cause, len(plan.positions))
                backoff = backoff or code != 409
            elif len(plan.positions) > 1:
                alone.update(plan.positions)  # which input is refused? write them one by one
                redo += plan.positions
            else:
                self._fail(result, status, plan.positions[0], plan.target, code, err)
        deletes = [(plan, d) for plan in written for d in plan.deletes]
        if deletes:
            answers = await self._send([d for _, d in deletes])
            for (plan, d), (code, _err) in zip(deletes, answers):
                if code == 404 or 200 <= code < 300:
                    self._forget(d["_id"])
                    continue
                # the document to take in changed (409) or could not be deleted now: do the plan again
                backoff = backoff or code != 409
                for pos in plan.positions:
                    if status.get(pos) == "ok" and pos not in redo:
                        status[pos] = "again"
                        redo.append(pos)
        return sorted(set(redo)), backoff

    def _fail(self, result: BulkResult, status: dict[int, str], pos: int, target: str, code: int, err: dict) -> None:
        status[pos] = "failed"
        result.failures.append(
            ItemFailure(
                position=pos,
                doc_id=target,
                status=code,
                error_type=str(err.get("type", f"http_{code}")),
                reason=str(err.get("reason", ""))[:2000],
            )
        )

    async def _send(self, actions: list[dict[str, Any]]) -> list[tuple[int, dict]]:
        """Send actions in bulk requests (``max_docs``/``max_bytes`` each, ``max_in_flight`` at once), once.

        Returns ``(HTTP status, error)`` per action, in order; status 0 for an
        action whose request met a connection error or timeout.
        """
        sizes = [len(orjson.dumps(a.get("_source", {}))) + 150 for a in actions]
        chunks = list(writer._chunks_by_bytes([[i] for i in range(len(actions))], sizes, self.max_docs, self.max_bytes))
        gate = asyncio.Semaphore(self.max_in_flight)

        async def send(chunk: list[int]) -> list[dict] | BaseException:
            async with gate:
                sent_at = time.monotonic()
                try:
                    items = await writer._bulk_chunk(self.client, [(i, actions[i]) for i in chunk])
                except (TimeoutError, TransportConnectionError, ConnectionTimeout, ConnectionError) as exc:
                    metrics.observe_bulk_request(time.monotonic() - sent_at, reached=False)
                    return exc
                metrics.observe_bulk_request(time.monotonic() - sent_at, reached=True)
                return items

        out: list[tuple[int, dict]] = [(0, {}) for _ in actions]
        for chunk, items in zip(chunks, await asyncio.gather(*(send(c) for c in chunks))):
            if isinstance(items, BaseException):
                for i in chunk:
                    out[i] = (0, {"type": "connection", "reason": items.__class__.__name__})
                continue
            for i, item in zip(chunk, items):
                info: dict[str, Any] = next(iter(item.values()), {}) if item else {}
                try:
                    code = int(info.get("status", 0))
                except (TypeError, ValueError):  # "N/A": no HTTP answer
                    code = 503
                err = info.get("error") or {}
                if isinstance(err, str):  # a whole-request error, from the helper
                    err = {"type": info.get("exception").__class__.__name__, "reason": err}
                out[i] = (code, err)
        metrics.count_throttled(sum(1 for code, _ in out if code == 429))
        return out

    async def _lookup(self, strong_keys: list[str], weak_keys: list[str], ids: list[str]) -> list[merge.Candidate]:
        """The documents an input may belong to: holding one of ``ids`` (their own or merged in), or with a
        title key of an input: any document for an input without a canonical URL (``weak_keys``), only
        documents without one for an input with one (``strong_keys``: two canonical URLs never merge).

        The search sees what Elasticsearch has refreshed; what this writer wrote since is added from its
        memory of the last :data:`_RECENT_SECONDS` (:meth:`_remember`), so no refresh is forced per batch.
        """
        if not (strong_keys or weak_keys or ids):
            return []
        if not self._looked_up:
            # another agent may have written just before this one took the partitions over
            self._looked_up = True
            await self.client.indices.refresh(index=self.index)
        # a document's aliases hold its own id too: one terms query finds a document by id or by alias
        should: list[dict] = [{"terms": {"aliases": ids}}]
        if weak_keys:
            should.append({"terms": {"dedup.title_keys": weak_keys}})
        only_strong = sorted(set(strong_keys) - set(weak_keys))
        if only_strong:
            should.append(
                {
                    "bool": {
                        "filter": [{"terms": {"dedup.title_keys": only_strong}}],
                        "must_not": [{"exists": {"field": "canonical_url"}}],
                    }
                }
            )
        resp = await self.client.search(
            index=self.index,
            query={"bool": {"should": should, "minimum_should_match": 1}},
            source_includes=list(_CANDIDATE_FIELDS),
            size=min(10000, 20 * (len(strong_keys) + len(weak_keys) + len(ids))),
        )
        found = {h["_id"]: merge.Candidate.of({**h["_source"], "id": h["_id"]}) for h in resp["hits"]["hits"]}
        found.update(self._recalled(set(strong_keys) | set(weak_keys), set(ids)))
        for gone in self._deleted:
            found.pop(gone, None)
        return list(found.values())

    def _recalled(self, keys: set[str], ids: set[str]) -> dict[str, merge.Candidate]:
        """What this writer wrote lately with one of these title keys or aliases (newer than a search sees)."""
        now = time.monotonic()
        for doc_id in [d for d, (t, _) in self._recent.items() if now - t > _RECENT_SECONDS]:
            del self._recent[doc_id]
        self._deleted = {d: t for d, t in self._deleted.items() if now - t <= _RECENT_SECONDS}
        return {
            doc_id: cand
            for doc_id, (_, cand) in self._recent.items()
            if keys.intersection(cand.title_keys) or ids.intersection(cand.aliases)
        }

    async def _read(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The documents with these ids as they are now (a realtime multi-get), with their sequence numbers."""
        if not ids:
            return {}
        resp = await self.client.mget(index=self.index, ids=ids, realtime=True)
        failed = [d for d in resp["docs"] if "error" in d]
        if failed:  # a shard not available (recovering): whether the document exists is not known
            raise _NotReadable(f"read: {failed[0]['error'].get('type', 'error')}")
        return {d["_id"]: d for d in resp["docs"] if d.get("found")}

    def _remember(self, doc: dict[str, Any]) -> None:
        """Keep a written document's candidate for :data:`_RECENT_SECONDS` (see :meth:`_lookup`)."""
        self._recent[doc["id"]] = (time.monotonic(), merge.Candidate.of(doc))
        self._deleted.pop(doc["id"], None)

    def _forget(self, doc_id: str) -> None:
        """A document taken into another was deleted: a search may still see it for a while."""
        self._recent.pop(doc_id, None)
        self._deleted[doc_id] = time.monotonic()


class _NotReadable(RuntimeError):
    """A document of the batch could not be read (its shard is not available): retried like a 503."""


#: Seconds a written document is remembered by its writer: longer than any sensible refresh interval
#: (the default is 0.5 s), so a look-up finds it before a search can.
_RECENT_SECONDS = 10.0

#: What a look-up reads of a document: what :class:`merge.Candidate` compares.
_CANDIDATE_FIELDS = ("canonical_url", "dedup.title_keys", "dedup.fingerprints", "aliases", "published_at", "language")

#: Times an input may meet a changed document (409) before it is reported as a failure.
_MAX_CONFLICTS = 50


@dataclass
class _Plan:
    """One document to write: its id, the inputs going into it, the documents it takes in."""

    target: str
    positions: list[int]
    absorbs: list[str]
    doc: dict[str, Any] = field(default_factory=dict)
    action: dict[str, Any] = field(default_factory=dict)
    deletes: list[dict[str, Any]] = field(default_factory=list)
