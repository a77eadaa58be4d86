"""``newsstream audit``: did every article published reach the index or the dead-letter topic?

An operator's proof after a failure, in the terms of Kafka Connect's sink:
every message of the raw topic (all partitions, from the earliest retained
offset or from a time, up to the end offsets when the audit starts) is
classified as exactly one of

* **indexed**: a document in the index came from it;
* **dead-lettered**: it, or the record a later stage made of it, is on the
  dead-letter topic, with the stage and the reason;
* **missing**: neither. Each is listed with its topic, partition, offset,
  key and, when the audit could work it out, the article id.

and ``published = indexed + dead_lettered + missing``. **Duplicates** are
raw messages whose article has two or more documents.

How a raw message finds its document (cheaply: no parsing in the common case)
------------------------------------------------------------------------------
The parse stage stores the raw message's key in the record
(``raw_key``, :func:`streams.publish.raw_key`) and the index keeps it as a
keyword. The audit computes the same ``raw_key`` from each message (its key;
for a message without one, published by another tool such as kcat, the id
``newsstream publish`` would have keyed it by: a decode and a hash, no
parsing) and asks Elasticsearch, a batch of keys at a time, for the
documents holding them (a ``terms`` query). A message whose key no document
holds may still be indexed under another key: the same article published
twice with different keys (the same URL as HTML and as text, a URL with
tracking parameters) is one document, and it keeps the key of the version
written last. Only those messages are parsed (:func:`streams.parsing.parse`,
the parse stage's own code) to learn their article id, which is looked up
by ``_id`` (and in an ``aliases`` field, where an index keeps the ids of
inputs it merged). The report says how many were matched that way.

Dead letters are read first (the whole dead-letter topic; memory grows with
the number of letters, not of articles): a parse-stage letter names the raw
message by topic, partition and offset; a later stage's letter carries the
record, whose ``raw_key`` and ``id`` name it.

Cost: one pass over the raw topic (kafka-python, group-less, so no consumer
group's offsets move) and one Elasticsearch search per batch of
``batch_size`` messages; memory holds one batch, the dead letters' keys and
the counters. bench/audit.py measures it (bench/README.md).
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from elasticsearch import Elasticsearch, NotFoundError
from kafka import TopicPartition
from kafka.errors import KafkaError

from indexers.elasticsearch import client as es_client
from streams import kafka
from streams.parsing import ParseRejected, parse
from streams.publish import raw_key
from streams.records import DeadLetter, RecordError, decode_raw
from streams.settings import Settings
from streams.topics import topic_names

log = logging.getLogger(__name__)

#: Raw messages looked up in one Elasticsearch search.
BATCH_SIZE = 1000

#: The most hits one search returns (Elasticsearch's ``index.max_result_window`` default).
MAX_HITS = 10_000


class AuditError(RuntimeError):
    """The audit cannot run (Kafka or Elasticsearch unreachable, no such topic); the message says why."""


@dataclass
class Missing:
    """A raw message that reached neither the index nor the dead-letter topic."""

    topic: str
    partition: int
    offset: int
    key: str | None
    article_id: str | None
    detail: str = ""


@dataclass
class Duplicate:
    """An article (one raw key) with more than one document: their ids."""

    topic: str
    partition: int
    offset: int
    key: str
    document_ids: list[str]


@dataclass
class AuditReport:
    """What :func:`audit` found. Counts are of raw messages unless named otherwise.

    ``published = indexed + dead_lettered + missing``. ``dead_lettered_by``
    counts by ``"stage: reason"``; ``matched_by_id`` messages were found
    under their article id, not their key (parsed to learn it);
    ``missing_listed``/``duplicates_listed`` hold at most ``limit`` entries
    each. ``lag`` is the pipeline's consumer group's lag per topic when the
    audit started (messages not yet handled; missing ones may still be on
    their way when it is not 0), None when the group has committed nothing.
    ``seconds`` is wall time; ``rate`` raw messages per second.
    """

    topic: str
    index: str
    since: str | None
    offsets: dict[int, tuple[int, int]] = field(default_factory=dict)
    published: int = 0
    indexed: int = 0
    dead_lettered: int = 0
    dead_lettered_by: dict[str, int] = field(default_factory=dict)
    missing: int = 0
    duplicates: int = 0
    matched_by_id: int = 0
    without_key: int = 0
    documents: int = 0
    dead_letters: int = 0
    lag: dict[str, int] | None = None
    missing_listed: list[Missing] = field(default_factory=list)
    duplicates_listed: list[Duplicate] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """True when nothing is missing and no article has two documents."""
        return self.missing == 0 and self.duplicates == 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["offsets"] = {str(p): {"start": s, "end": e} for p, (s, e) in self.offsets.items()}
        out["rate"] = round(self.rate, 1)
        out["seconds"] = round(self.seconds, 3)
        out["ok"] = self.ok
        return out


# ---------------------------------------------------------------- --since


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """Return the moment ``text`` names: an ISO 8601 date or time (UTC unless it says
    otherwise), or a duration back from now (``90s``, ``30m``, ``2h``, ``7d``, ``1w``).

    Raises:
        ValueError: neither, in one line naming the text.
    """
    now = now or datetime.now(UTC)
    m = _DURATION.match(text)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--since {text!r} is neither an ISO 8601 date or time nor a duration such as 30m, 2h or 7d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---------------------------------------------------------------- dead letters


@dataclass
class _Letters:
    """What the dead-letter topic says, reduced to what classifying a raw message needs."""

    by_position: dict[tuple[int, int], str] = field(default_factory=dict)  # raw (partition, offset)
    by_key: dict[str, str] = field(default_factory=dict)  # raw_key
    by_id: dict[str, str] = field(default_factory=dict)  # article id
    total: int = 0


def _read_letters(settings: Settings, consumer: Any, names: dict[str, str]) -> _Letters:
    """Read the whole dead-letter topic (to its end offsets now) into a :class:`_Letters`.

    Letters of the pipeline's road count: the parse stage's (named by raw
    offset), the enrich stage's and enricher plugins' (input on the parsed
    topic) and the index stage's. A consumer agent plugin's letters (input
    the enriched topic, stage not ``index``) say nothing about the index and
    are only counted.
    """
    letters = _Letters()
    for msg in _messages(consumer, names["dlq"], None):
        letters.total += 1
        try:
            letter = DeadLetter.from_bytes(msg.value)
        except RecordError:
            continue  # not a dead letter: somebody else's message on the topic
        why = f"{letter.stage}: {letter.reason}"
        if letter.topic == names["raw"]:
            if letter.partition is not None and letter.offset is not None:
                letters.by_position[(letter.partition, letter.offset)] = why
            continue
        if letter.topic == names["enriched"] and letter.stage != "index":
            continue
        if letter.topic not in (names["parsed"], names["enriched"]):
            continue
        if letter.key:
            letters.by_id.setdefault(letter.key, why)  # the parsed and enriched topics are keyed by article id
        if letter.original_truncated:
            continue
        try:
            record = orjson.loads(letter.original_bytes())
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict):
            if isinstance(record.get("raw_key"), str):
                letters.by_key.setdefault(record["raw_key"], why)
            if isinstance(record.get("id"), str):
                letters.by_id.setdefault(record["id"], why)
    return letters


# ---------------------------------------------------------------- Kafka


def _partitions(consumer: Any, topic: str) -> list[TopicPartition]:
    parts = consumer.partitions_for_topic(topic)
    return [TopicPartition(topic, p) for p in sorted(parts or ())]


def _ranges(consumer: Any, tps: list[TopicPartition], since: datetime | None) -> dict[TopicPartition, tuple[int, int]]:
    """``{tp: (first offset to read, end offset)}``: from the earliest retained or from ``since``."""
    if not tps:
        return {}
    begin = consumer.beginning_offsets(tps)
    end = consumer.end_offsets(tps)
    start = dict(begin)
    if since is not None:
        found = consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
        for tp in tps:
            at = found.get(tp)
            start[tp] = max(begin[tp], at.offset) if at is not None else end[tp]
    return {tp: (start[tp], end[tp]) for tp in tps}


def _messages(consumer: Any, topic: str, since: datetime | None, poll_ms: int = 10_000) -> Iterator[Any]:
    """Yield every message of ``topic`` in its range (:func:`_ranges`), partition by partition as fetched.

    Raises:
        AuditError: a poll brings nothing for ``poll_ms`` while messages are still due.
    """
    tps = _partitions(consumer, topic)
    ranges = _ranges(consumer, tps, since)
    yield from _read(consumer, ranges, poll_ms)


def _read(consumer: Any, ranges: dict[TopicPartition, tuple[int, int]], poll_ms: int = 10_000) -> Iterator[Any]:
    due = {tp: r for tp, r in ranges.items() if r[0] < r[1]}
    if not due:
        return
    consumer.assign(list(due))
    for tp, (start, _) in due.items():
        consumer.seek(tp, start)
    while due:
        batch = consumer.poll(timeout_ms=poll_ms)
        if not batch:
            left = {f"{tp.topic}/{tp.partition}": consumer.position(tp) for tp in due}
            raise AuditError(f"no message came for {poll_ms / 1000:.0f} s while some were due (positions {left})")
        for tp, messages in batch.items():
            if tp not in due:
                continue
            end = due[tp][1]
            for m in messages:
                if m.offset >= end:
                    break
                yield m
            if consumer.position(tp) >= end or (messages and messages[-1].offset + 1 >= end):
                del due[tp]
                consumer.pause(tp)


def group_lag(settings: Settings, group: str | None = None) -> dict[str, int] | None:
    """Return the lag of the pipeline's consumer group (``settings.app_id``) on the raw, parsed and
    enriched topics (end offset - committed offset, summed over partitions), or None when the group
    has committed nothing on any of them. A partition without a commit counts from its first offset."""
    group = group or settings.app_id
    names = topic_names(settings)
    client = kafka.admin(settings)
    consumer = kafka.consumer(settings, None)
    try:
        committed = _committed(client, group)
        if not committed:
            return None
        lag: dict[str, int] = {}
        for key in ("raw", "parsed", "enriched"):
            tps = _partitions(consumer, names[key])
            if not tps:
                continue
            end = consumer.end_offsets(tps)
            begin = consumer.beginning_offsets(tps)
            total = 0
            for tp in tps:
                done = committed.get(tp)
                at = done.offset if done is not None and done.offset >= 0 else begin[tp]
                total += max(0, end[tp] - at)
            lag[names[key]] = total
        return lag
    finally:
        consumer.close()
        client.close()


def _committed(client: Any, group: str, timeout: float = 15.0) -> dict:
    """The group's committed offsets; asked again while the coordinator is not available (a retriable
    error: a broker just started, or the group's coordinator moved with a broker's death)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.list_group_offsets(group).get(group) or {}
        except KafkaError as exc:
            if not exc.retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def wait_drained(settings: Settings, timeout: float, poll: float = 1.0) -> dict[str, int] | None:
    """Wait up to ``timeout`` s until the pipeline's consumer group has no lag; return the last lag."""
    deadline = time.monotonic() + timeout
    lag = group_lag(settings)
    while (lag is None or any(lag.values())) and time.monotonic() < deadline:
        time.sleep(poll)
        lag = group_lag(settings)
    return lag


# ---------------------------------------------------------------- Elasticsearch


def _documents_by_key(es: Elasticsearch, index: str, keys: list[str]) -> dict[str, set[str]]:
    """``{raw_key: {document id, ...}}`` for the documents holding any of ``keys``."""
    found: dict[str, set[str]] = {}
    if not keys:
        return found
    after: list[Any] | None = None
    size = min(MAX_HITS, 2 * len(keys) + 10)
    while True:
        hits = es.search(
            index=index,
            query={"terms": {"raw_key": keys}},
            source=False,
            docvalue_fields=[{"field": "raw_key"}],
            sort=[{"raw_key": "asc"}, {"id": "asc"}],
            size=size,
            track_total_hits=False,
            search_after=after,
        )["hits"]["hits"]
        for hit in hits:
            for key in hit.get("fields", {}).get("raw_key", []):
                found.setdefault(key, set()).add(hit["_id"])
        if len(hits) < size:
            return found
        after = hits[-1]["sort"]


def _documents_by_id(es: Elasticsearch, index: str, ids: list[str]) -> set[str]:
    """The ``ids`` that are a document's ``_id`` or in its ``aliases`` (the ids an index merged into it)."""
    if not ids:
        return set()
    query = {"bool": {"should": [{"ids": {"values": ids}}, {"terms": {"aliases": ids}}]}}
    resp = es.search(
        index=index,
        query=query,
        source_includes=["aliases"],
        size=min(MAX_HITS, 2 * len(ids) + 10),
        track_total_hits=False,
    )
    wanted = set(ids)
    found: set[str] = set()
    for hit in resp["hits"]["hits"]:
        found |= wanted & {hit["_id"], *(hit.get("_source", {}).get("aliases") or [])}
    return found


# ---------------------------------------------------------------- the audit


@dataclass
class _Message:
    partition: int
    offset: int
    key: str | None
    value: bytes | None
    headers: dict[str, bytes]


def _key_of(msg: Any) -> tuple[str | None, dict[str, bytes]]:
    headers = {k: bytes(v) for k, v in (msg.headers or []) if isinstance(v, (bytes, bytearray))}
    if msg.key:
        return raw_key(msg.key), headers
    try:
        return raw_key(None, decode_raw(msg.value, headers)), headers
    except RecordError:
        return None, headers  # not an article: the parse stage dead-letters it


def _article_id(m: _Message) -> tuple[str | None, str]:
    """The article id the parse stage gives the message (parsing it), or None and why not."""
    try:
        return parse(decode_raw(m.value, m.headers)).id, ""
    except (RecordError, ParseRejected) as exc:
        return None, f"the parse stage rejects it ({exc}) but no dead letter says so"
    except Exception as exc:  # a parser bug: the stage dead-letters it as "parser error"
        return None, f"the parser fails on it ({exc.__class__.__name__}) but no dead letter says so"


def audit(
    settings: Settings,
    since: datetime | None = None,
    *,
    topic: str | None = None,
    limit: int = 1000,
    batch_size: int = BATCH_SIZE,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Audit the raw topic (``topic``, default ``settings.topic_raw``) against the index
    behind ``settings.index_alias`` and the dead-letter topic; see the module's docstring.

    ``since`` starts each partition at the first message at or after that
    moment (Kafka's ``offsets_for_times``); ``limit`` caps the missing and
    duplicate entries listed (all are counted). ``on_total(n)`` is called
    once with the number of messages to read, ``on_progress(n)`` after each
    batch of ``n``.

    Raises:
        AuditError: Kafka or Elasticsearch unreachable, or the topic has no partitions.
    """
    started = time.monotonic()
    names = topic_names(settings)
    raw_topic = topic or names["raw"]
    es = es_client.sync_client(settings, request_timeout=60, retry_on_timeout=True, max_retries=3)
    try:
        es.indices.refresh(index=settings.index_alias)
        documents = int(es.count(index=settings.index_alias)["count"])
    except NotFoundError:
        documents = -1  # no index: every article is missing (or dead-lettered)
    except Exception as exc:
        raise AuditError(f"Elasticsearch at {settings.elasticsearch_url}: {exc.__class__.__name__}: {exc}") from None
    report = AuditReport(
        raw_topic, settings.index_alias, since.isoformat() if since else None, documents=max(0, documents)
    )
    try:
        report.lag = group_lag(settings)
        consumer = kafka.consumer(settings, None)  # a fetch holds ~1 MiB a partition (one larger message whole)
    except Exception as exc:
        raise AuditError(f"Kafka at {settings.kafka_bootstrap}: {exc.__class__.__name__}: {exc}") from None
    try:
        letters = _read_letters(settings, consumer, names)
        report.dead_letters = letters.total
        consumer.unsubscribe()
        tps = _partitions(consumer, raw_topic)
        if not tps:
            raise AuditError(f"topic {raw_topic!r} does not exist at {settings.kafka_bootstrap}")
        ranges = _ranges(consumer, tps, since)
        report.offsets = {tp.partition: r for tp, r in ranges.items()}
        if on_total:
            on_total(sum(end - start for start, end in ranges.values()))
        by: Counter[str] = Counter()
        seen_duplicates: set[str] = set()
        batch: list[_Message] = []

        def flush() -> None:
            _classify(
                es,
                settings.index_alias if documents >= 0 else None,
                raw_topic,
                batch,
                letters,
                report,
                by,
                seen_duplicates,
                limit,
            )
            if on_progress:
                on_progress(len(batch))
            batch.clear()

        for msg in _read(consumer, ranges):
            key, headers = _key_of(msg)
            report.without_key += msg.key is None
            batch.append(_Message(msg.partition, msg.offset, key, msg.value, headers))
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
        report.dead_lettered_by = dict(by.most_common())
    finally:
        consumer.close()
        es.close()
    report.seconds = time.monotonic() - started
    return report


def _classify(
    es: Elasticsearch,
    index: str | None,
    topic: str,
    batch: list[_Message],
    letters: _Letters,
    report: AuditReport,
    by: Counter[str],
    seen_duplicates: set[str],
    limit: int,
) -> None:
    """Classify one batch of raw messages into ``report`` (see the module's docstring)."""
    keys = sorted({m.key for m in batch if m.key})
    docs = _documents_by_key(es, index, keys) if index else {}
    unresolved: list[_Message] = []
    report.published += len(batch)
    for m in batch:
        found = docs.get(m.key or "")
        if found:
            report.indexed += 1
            if len(found) > 1 and m.key not in seen_duplicates:
                seen_duplicates.add(m.key or "")
                report.duplicates += 1
                if len(report.duplicates_listed) < limit:
                    report.duplicates_listed.append(Duplicate(topic, m.partition, m.offset, m.key or "", sorted(found)))
            continue
        unresolved.append(m)
    # not found by key: a dead letter of the message or of its record, else parse it to learn its
    # article id (the same article published under another key is one document, keyed by the last)
    left: list[_Message] = []
    for m in unresolved:
        reason = letters.by_position.get((m.partition, m.offset)) or (letters.by_key.get(m.key) if m.key else None)
        if reason:
            report.dead_lettered += 1
            by[reason] += 1
        else:
            left.append(m)
    if not left:
        return
    ids = [_article_id(m) for m in left]
    found_ids = _documents_by_id(es, index, sorted({i for i, _ in ids if i})) if index else set()
    for m, (article_id, why_not) in zip(left, ids):
        if article_id and article_id in found_ids:
            report.indexed += 1
            report.matched_by_id += 1
            continue
        reason = letters.by_id.get(article_id) if article_id else None
        if reason:
            report.dead_lettered += 1
            by[reason] += 1
            continue
        report.missing += 1
        if len(report.missing_listed) < limit:
            report.missing_listed.append(
                Missing(topic, m.partition, m.offset, m.key, article_id, why_not or "no document and no dead letter")
            )
