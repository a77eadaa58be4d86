"""Consumer lag read from Kafka itself: each consumer group's committed offsets against the end offsets.

Used by the worker's metrics endpoint (:mod:`streams.observe`, the
``newsstream_consumer_lag`` gauge) and by ``newsstream status``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError

from streams import kafka
from streams.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class PartitionLag:
    """One partition of a consumer group's topic: committed offset (None: nothing committed), end offset, lag."""

    group: str
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int


class LagReader:
    """Consumer lag read from Kafka itself: each group's committed offsets against the end offsets.

    Keeps one kafka-python admin client and one group-less consumer (it
    commits nothing, so reading moves nobody's offsets); not thread-safe:
    one reader per thread. A partition without a committed offset lags by
    everything still on it (end - beginning offset).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._admin: Any = None
        self._consumer: Any = None

    def _clients(self) -> tuple[Any, Any]:
        if self._admin is None:
            self._admin = kafka.admin(self.settings, client_id="newsstream-lag")
        if self._consumer is None:
            self._consumer = kafka.consumer(self.settings, None, client_id="newsstream-lag")
        return self._admin, self._consumer

    def partitions(self, topic: str) -> list[TopicPartition]:
        """The partitions of ``topic`` (none when it does not exist)."""
        _, consumer = self._clients()
        return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]

    def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        _, consumer = self._clients()
        return dict(consumer.end_offsets(tps)) if tps else {}

    def committed(self, group: str) -> dict[TopicPartition, int]:
        """``{partition: committed offset}`` of consumer group ``group`` (empty when it never committed)."""
        admin, _ = self._clients()
        try:
            found = admin.list_group_offsets({group: None}).get(group) or {}
        except KafkaError as exc:  # an unknown group is not an error here: it has no offsets yet
            log.debug("offsets of group %s: %r", group, exc)
            return {}
        return {tp: meta.offset for tp, meta in found.items() if meta is not None and meta.offset >= 0}

    def lag(self, groups: dict[str, list[str]]) -> list[PartitionLag]:
        """The lag of every partition of each group's topics: ``groups`` is ``{group: [topic, ...]}``."""
        _, consumer = self._clients()
        tps = sorted({tp for topics in groups.values() for t in topics for tp in self.partitions(t)})
        if not tps:
            return []
        end = consumer.end_offsets(tps)
        begin = consumer.beginning_offsets(tps)
        rows = []
        for group, topics in groups.items():
            committed = self.committed(group)
            for tp in tps:
                if tp.topic not in topics:
                    continue
                done = committed.get(tp)
                start = done if done is not None else begin[tp]
                rows.append(PartitionLag(group, tp.topic, tp.partition, done, end[tp], max(0, end[tp] - start)))
        return rows

    def close(self) -> None:
        for client in (self._consumer, self._admin):
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass
        self._admin = self._consumer = None
