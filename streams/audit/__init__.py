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
tracking parameters) is one document, and it keeps the key of its first
input (:data:`indexers.elasticsearch.merge.OWN_FIELDS`). Only those messages are parsed (:func:`streams.parsing.parse`,
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
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from indexers.elasticsearch import client as es_client
from streams import kafka
from streams.audit import sources
from streams.audit.report import AuditError, AuditReport, Duplicate, Missing, parse_since
from streams.audit.sources import group_lag, wait_drained
from streams.parsing import ParseRejected, parse
from streams.publish import raw_key
from streams.records import RecordError, decode_raw
from streams.settings import Settings
from streams.topics import topic_names

__all__ = [
    "BATCH_SIZE",
    "AuditError",
    "AuditReport",
    "Duplicate",
    "Missing",
    "audit",
    "group_lag",
    "parse_since",
    "wait_drained",
]

log = logging.getLogger(__name__)

#: Raw messages looked up in one Elasticsearch search.
BATCH_SIZE = 1000


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
        explained = es_client.explain(settings, exc)  # one line: address and cause, never a secret
        raise AuditError(
            explained[1] if explained else f"Elasticsearch at {es_client.address(settings)}: {exc.__class__.__name__}"
        ) from None
    report = AuditReport(
        raw_topic, settings.index_alias, since.isoformat() if since else None, documents=max(0, documents)
    )
    try:
        report.lag = group_lag(settings)
        consumer = kafka.consumer(settings, None)  # a fetch holds ~1 MiB a partition (one larger message whole)
    except Exception as exc:
        raise AuditError(f"Kafka at {settings.kafka_bootstrap}: {exc.__class__.__name__}: {exc}") from None
    try:
        letters = sources.read_letters(settings, consumer, names)
        report.dead_letters = letters.total
        consumer.unsubscribe()
        tps = sources.partitions(consumer, raw_topic)
        if not tps:
            raise AuditError(f"topic {raw_topic!r} does not exist at {settings.kafka_bootstrap}")
        ranges = sources.offset_ranges(consumer, tps, since)
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

        for msg in sources.read(consumer, ranges):
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
    letters: sources.Letters,
    report: AuditReport,
    by: Counter[str],
    seen_duplicates: set[str],
    limit: int,
) -> None:
    """Classify one batch of raw messages into ``report`` (see the module's docstring)."""
    keys = sorted({m.key for m in batch if m.key})
    docs = sources.documents_by_key(es, index, keys) if index else {}
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
    # article id (the same article published under another key is one document, keyed by the first)
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
    found_ids = sources.documents_by_id(es, index, sorted({i for i, _ in ids if i})) if index else set()
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
