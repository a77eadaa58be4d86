"""Where ``newsstream audit`` reads: the raw and dead-letter topics (group-less, offsets by
partition), the pipeline's consumer group's lag, and the index (batched lookups by raw key or id).

Memory: :func:`read` yields messages as fetched; :func:`read_letters` keeps
the dead letters' positions, keys and ids (it grows with the letters, not the
articles); each lookup holds one batch's hits.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from elasticsearch import Elasticsearch
from kafka import TopicPartition
from kafka.errors import KafkaError

from streams import kafka
from streams.audit.report import AuditError
from streams.records import DeadLetter, RecordError
from streams.settings import Settings
from streams.topics import topic_names

#: The most hits one search returns (Elasticsearch's ``index.max_result_window`` default).
MAX_HITS = 10_000

# ---------------------------------------------------------------- dead letters


@dataclass
class Letters:
    """What the dead-letter topic says, reduced to what classifying a raw message needs."""

    by_position: dict[tuple[int, int], str] = field(default_factory=dict)  # raw (partition, offset)
    by_key: dict[str, str] = field(default_factory=dict)  # raw_key
    by_id: dict[str, str] = field(default_factory=dict)  # article id
    total: int = 0


def read_letters(settings: Settings, consumer: Any, names: dict[str, str]) -> Letters:
    """Read the whole dead-letter topic (to its end offsets now) into a :class:`Letters`.

    Letters of the pipeline's road count: the parse stage's (named by raw
    offset), the enrich stage's and enricher plugins' (input on the parsed
    topic) and the index stage's. A consumer agent plugin's letters (input
    the enriched topic, stage not ``index``) say nothing about the index and
    are only counted.
    """
    letters = Letters()
    for msg in messages(consumer, names["dlq"], None):
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


def partitions(consumer: Any, topic: str) -> list[TopicPartition]:
    parts = consumer.partitions_for_topic(topic)
    return [TopicPartition(topic, p) for p in sorted(parts or ())]


def offset_ranges(
    consumer: Any, tps: list[TopicPartition], since: datetime | None
) -> dict[TopicPartition, tuple[int, int]]:
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


def messages(consumer: Any, topic: str, since: datetime | None, poll_ms: int = 10_000) -> Iterator[Any]:
    """Yield every message of ``topic`` in its range (:func:`offset_ranges`), partition by partition as fetched.

    Raises:
        AuditError: a poll brings nothing for ``poll_ms`` while messages are still due.
    """
    tps = partitions(consumer, topic)
    yield from read(consumer, offset_ranges(consumer, tps, since), poll_ms)


def read(consumer: Any, ranges: dict[TopicPartition, tuple[int, int]], poll_ms: int = 10_000) -> Iterator[Any]:
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
        committed = committed_offsets(client, group)
        if not committed:
            return None
        lag: dict[str, int] = {}
        for key in ("raw", "parsed", "enriched"):
            tps = partitions(consumer, names[key])
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


def committed_offsets(client: Any, group: str, timeout: float = 15.0) -> dict:
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


def documents_by_key(es: Elasticsearch, index: str, keys: list[str]) -> dict[str, set[str]]:
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


def documents_by_id(es: Elasticsearch, index: str, ids: list[str]) -> set[str]:
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
