"""What ``newsstream publish --wait`` waits for: everything published indexed or dead-lettered.

:func:`wait_until_handled` is ``publish --wait``: a barrier through the
pipeline. It waits until the built-in agents' group has committed past what
was published on the raw topic (parse handled it all, and its outputs were in
Kafka before the commit), then past the parsed topic's end offsets taken at
that moment (enrich), then past the enriched topic's (index: Elasticsearch
acknowledged or dead-lettered). Then it reads the dead letters written
meanwhile and matches them to the published messages by their
``newsstream-origin`` header: what was published and is not dead-lettered
was indexed.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka import TopicPartition

from indexers.elasticsearch import client
from streams import kafka, lag, metrics
from streams.plugins import PluginError, load_consumer_agents
from streams.records import DeadLetter, RecordError
from streams.settings import Settings
from streams.topics import STAGE_INPUT, topic_names


@dataclass
class Handled:
    """What became of published messages: ``indexed`` + dead letters by ``stage`` and reason class.

    ``done`` is False when the wait timed out; ``waiting_for`` then names
    the stage that had not caught up, and ``behind`` how many messages it had left.
    """

    published: int
    indexed: int = 0
    dead: dict[str, dict[str, int]] = field(default_factory=dict)
    done: bool = False
    waiting_for: str = ""
    behind: int = 0

    @property
    def dead_lettered(self) -> int:
        return sum(sum(c.values()) for c in self.dead.values())


def _refresh_seconds(interval: str) -> float | None:
    """``"500ms"`` -> 0.5, ``"1s"`` -> 1.0; None for ``-1`` (no refresh) or a unit not read here."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)\s*", interval)
    if not m:
        return None
    return float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group(2)]


def dlq_end_offsets(settings: Settings) -> dict[int, int]:
    """``{partition: end offset}`` of the dead-letter topic now (what ``publish --wait`` reads after)."""
    reader = lag.LagReader(settings)
    try:
        tps = reader.partitions(settings.topic_dlq)
        return {tp.partition: off for tp, off in reader.end_offsets(tps).items()}
    finally:
        reader.close()


def wait_until_handled(
    settings: Settings,
    published: list[tuple[int, int]],
    dlq_start: dict[int, int],
    timeout: float,
    progress: Callable[[str, int], None] | None = None,
    poll_seconds: float = 0.5,
) -> Handled:
    """Wait until every message of ``published`` (``(partition, offset)`` on the raw topic) is indexed
    or dead-lettered, or ``timeout`` seconds passed; see the module's description.

    ``dlq_start`` is :func:`dlq_end_offsets` taken before publishing.
    ``progress(stage, behind)`` is called at each poll with the stage waited
    for and how many messages its group has not committed yet.
    """
    s = settings
    names = topic_names(s)
    handled = Handled(published=len(published))
    reader = lag.LagReader(s)
    deadline = time.monotonic() + timeout
    try:
        first: dict[TopicPartition, int] = {}
        for p, o in published:
            tp = TopicPartition(names["raw"], p)
            first[tp] = max(first.get(tp, 0), o + 1)
        targets: dict[TopicPartition, int] | None = first
        for stage, key in STAGE_INPUT.items():
            if targets is None:  # what the stage before wrote, up to now
                tps = reader.partitions(names[key])
                targets = {tp: off for tp, off in reader.end_offsets(tps).items() if off > 0}
            while True:
                committed = reader.committed(s.app_id)
                behind = sum(max(0, target - committed.get(tp, 0)) for tp, target in targets.items())
                if progress is not None:
                    progress(stage, behind)
                if behind == 0:
                    break
                if time.monotonic() > deadline:
                    handled.waiting_for, handled.behind = stage, behind
                    handled.dead = _dead_letters_of(s, published, dlq_start)
                    handled.indexed = 0
                    return handled
                time.sleep(poll_seconds)
            targets = None
    finally:
        reader.close()
    handled.dead = _dead_letters_of(s, published, dlq_start)
    handled.indexed = handled.published - handled.dead_lettered
    handled.done = True
    # acknowledged is not yet searchable: the index refreshes every refresh_interval
    wait = _refresh_seconds(s.refresh_interval)
    if wait is not None:
        time.sleep(wait + 0.2)
    else:
        es = client.sync_client(s)
        try:
            es.indices.refresh(index=s.index_alias)
        finally:
            es.close()
    return handled


def _dead_letters_of(
    settings: Settings, published: list[tuple[int, int]], dlq_start: dict[int, int]
) -> dict[str, dict[str, int]]:
    """Dead letters written since ``dlq_start`` whose origin is one of ``published``, by stage and reason class.

    A letter's origin is its ``newsstream-origin`` header, else (a letter
    written by an older worker) its own topic, partition and offset. Letters
    of plugin consumer agents are left out: they say nothing about indexing.
    """
    raw = settings.topic_raw
    ours = {(raw, p, o) for p, o in published}
    try:
        plugins = {a.name for a in load_consumer_agents(settings)}
    except PluginError:
        plugins = set()
    consumer = kafka.consumer(settings, None, client_id="newsstream-publish-wait")
    seen: set[tuple[str, int, int]] = set()
    dead: dict[str, Counter] = {}
    try:
        tps = [
            TopicPartition(settings.topic_dlq, p)
            for p in sorted(consumer.partitions_for_topic(settings.topic_dlq) or ())
        ]
        if not tps:
            return {}
        end = consumer.end_offsets(tps)
        todo = {tp: dlq_start.get(tp.partition, 0) for tp in tps if dlq_start.get(tp.partition, 0) < end[tp]}
        if not todo:
            return {}
        consumer.assign(list(todo))
        for tp, start in todo.items():
            consumer.seek(tp, start)
        deadline = time.monotonic() + 60
        while todo and time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                for m in messages:
                    if m.offset >= end[tp]:
                        continue
                    try:
                        letter = DeadLetter.from_bytes(m.value)
                    except RecordError:
                        continue
                    origin = metrics.Origin.decode(metrics.header(m.headers, metrics.ORIGIN_HEADER))
                    where = (
                        (origin.topic, origin.partition, origin.offset)
                        if origin
                        else (
                            letter.topic,
                            letter.partition if letter.partition is not None else -1,
                            letter.offset if letter.offset is not None else -1,
                        )
                    )
                    if where in ours and where not in seen and letter.stage not in plugins:
                        seen.add(where)
                        dead.setdefault(letter.stage, Counter())[metrics.reason_class(letter.error, letter.reason)] += 1
                if messages and messages[-1].offset + 1 >= end[tp]:
                    todo.pop(tp, None)
    finally:
        consumer.close()
    return {stage: dict(c) for stage, c in sorted(dead.items())}
