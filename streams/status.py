"""What ``newsstream status`` shows, read from Kafka and Elasticsearch.

Nothing here scrapes a worker: every figure comes from the services
themselves, so it works with any number of workers, or none.

* **Consumer lag** per agent: its consumer group's committed offsets against
  the end offsets of its topic (:class:`streams.lag.LagReader`). The
  built-in agents share the group ``NEWSSTREAM_APP_ID``; each plugin
  consumer agent has its own.
* **Articles per second over the last minute** (:data:`WINDOW_SECONDS`): what
  the agent finished in that minute, counted by Kafka record timestamps
  (``offsets_for_times``): parse, the records it wrote to the parsed topic
  plus its dead letters; enrich, the same on the enriched topic (with its
  enrichers' dead letters); index, the documents whose ``ingested_at`` is in
  the minute plus its dead letters. A plugin consumer agent's outputs are its
  own, so for it the figure is the records of its topic published in the
  minute that its group has already committed (it undercounts an agent
  catching up on older records).
* **Dead letters by reason**: the letters on the dead-letter topic (the last
  :data:`DLQ_TAIL` of each partition), by stage and reason class
  (:func:`streams.metrics.reason_class`); the total is exact (offsets).
* The index's document count, and whether Kafka and Elasticsearch answer.

``newsstream publish --wait`` is :mod:`streams.waiting`.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import TopicPartition

from indexers.elasticsearch import client
from streams import kafka, lag, metrics
from streams.plugins import PluginError, load_consumer_agents, load_enrichers
from streams.records import DeadLetter, RecordError
from streams.settings import Settings
from streams.topics import STAGE_INPUT, STAGE_OUTPUT, topic_names

#: Seconds of the "articles per second" window.
WINDOW_SECONDS = 60.0
#: Dead letters read per partition to count them by reason (the newest).
DLQ_TAIL = 10_000


@dataclass
class AgentStatus:
    """One agent's line of the status: its group, topic, lag and rate."""

    name: str
    kind: str  # "built-in" or "plugin"
    group: str
    topic: str
    lag: int | None = None  # None: unknown (Kafka does not answer)
    partitions: list[dict[str, Any]] = field(default_factory=list)
    last_minute: int | None = None  # articles finished in the last WINDOW_SECONDS
    per_second: float | None = None
    dead_letters: dict[str, int] = field(default_factory=dict)  # reason class -> count (of those read)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "group": self.group,
            "topic": self.topic,
            "lag": self.lag,
            "partitions": self.partitions,
            "last_minute": self.last_minute,
            "per_second": None if self.per_second is None else round(self.per_second, 3),
            "dead_letters": dict(sorted(self.dead_letters.items())),
        }


class _DeadLetterTally:
    """Dead letters by stage and reason class, read incrementally (a ``--watch`` reads only new ones)."""

    def __init__(self, settings: Settings, consumer: Any) -> None:
        self.topic = settings.topic_dlq
        self.consumer = consumer
        self.position: dict[TopicPartition, int] = {}
        self.by_stage: dict[str, Counter] = {}
        self.recent: deque[tuple[int, str]] = deque()  # (timestamp ms, stage) of letters in the window
        self.counted = 0
        self.total = 0

    def update(self, since_ms: int) -> None:
        parts = self.consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        if not tps:
            return
        begin = self.consumer.beginning_offsets(tps)
        end = self.consumer.end_offsets(tps)
        self.total = sum(end[tp] - begin[tp] for tp in tps)
        todo = {}
        for tp in tps:
            start = self.position.get(tp, max(begin[tp], end[tp] - DLQ_TAIL))
            if start < end[tp]:
                todo[tp] = start
        if todo:
            self.consumer.assign(list(todo))
            for tp, start in todo.items():
                self.consumer.seek(tp, start)
            deadline = time.monotonic() + 30
            while todo and time.monotonic() < deadline:
                for tp, messages in self.consumer.poll(timeout_ms=1000).items():
                    for m in messages:
                        self._count(m, since_ms)
                    self.position[tp] = messages[-1].offset + 1 if messages else self.position.get(tp, 0)
                    if self.position.get(tp, 0) >= end[tp]:
                        todo.pop(tp, None)
        for tp in tps:
            self.position.setdefault(tp, end[tp])
        while self.recent and self.recent[0][0] < since_ms:
            self.recent.popleft()

    def _count(self, m: Any, since_ms: int) -> None:
        try:
            letter = DeadLetter.from_bytes(m.value)
        except RecordError:
            return  # not ours
        self.counted += 1
        self.by_stage.setdefault(letter.stage, Counter())[metrics.reason_class(letter.error, letter.reason)] += 1
        if m.timestamp >= since_ms:
            self.recent.append((m.timestamp, letter.stage))

    def recent_by_stage(self) -> Counter:
        return Counter(stage for _, stage in self.recent)


class StatusReader:
    """Reads the status from Kafka and Elasticsearch; keep one for ``--watch`` (clients are reused)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lag = lag.LagReader(settings)
        self._consumer: Any = None
        self._tally: _DeadLetterTally | None = None
        self._es: Any = None
        self.plugin_error: str | None = None
        try:
            self.plugins = load_consumer_agents(settings)
            self.enrichers = [e.name for e in load_enrichers(settings, setup=False)]
        except PluginError as exc:
            self.plugins, self.enrichers = [], []
            self.plugin_error = str(exc)

    def _kafka(self) -> Any:
        if self._consumer is None:
            self._consumer = kafka.consumer(self.settings, None, client_id="newsstream-status")
        return self._consumer

    def _recent(self, topic: str, since_ms: int) -> int:
        """Records on ``topic`` whose Kafka timestamp is at or after ``since_ms``."""
        consumer = self._kafka()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return 0
        found = consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
        end = consumer.end_offsets(tps)
        return sum(end[tp] - hit.offset for tp, hit in found.items() if hit is not None)

    def _recent_committed(self, group: str, topic: str, since_ms: int) -> int:
        """Records of ``topic`` published since ``since_ms`` that ``group`` has committed."""
        consumer = self._kafka()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return 0
        found = consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
        committed = self.lag.committed(group)
        return sum(max(0, committed.get(tp, 0) - hit.offset) for tp, hit in found.items() if hit is not None)

    def _elasticsearch(self, since: str) -> dict[str, Any]:
        if self._es is None:
            self._es = client.sync_client(self.settings, request_timeout=5, max_retries=0)
        alias = self.settings.index_alias
        out: dict[str, Any] = {"alias": alias, "healthy": client.healthy(self.settings, timeout=3)}
        if not out["healthy"]:
            return {**out, "documents": None, "indexed_last_minute": None}
        try:
            out["documents"] = self._es.count(index=alias)["count"]
            out["indexed_last_minute"] = self._es.count(index=alias, query={"range": {"ingested_at": {"gte": since}}})[
                "count"
            ]
        except Exception as exc:  # no index yet (no worker started), or refused
            out["documents"] = out["indexed_last_minute"] = None
            out["error"] = f"{exc.__class__.__name__}: {str(exc)[:200]}"
        return out

    def read(self) -> dict[str, Any]:
        """The status now, as a JSON-able dict (the shape ``newsstream status --json`` prints)."""
        s = self.settings
        now = time.time()
        since_ms = int((now - WINDOW_SECONDS) * 1000)
        since_iso = datetime.fromtimestamp(now - WINDOW_SECONDS, UTC).isoformat(timespec="milliseconds")
        result: dict[str, Any] = {
            "time": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            "window_seconds": WINDOW_SECONDS,
            "kafka": {"bootstrap": s.kafka_bootstrap, "healthy": kafka.healthy(s, timeout=3)},
        }
        result["elasticsearch"] = self._elasticsearch(since_iso)
        if self.plugin_error:
            result["plugin_error"] = self.plugin_error
        names = topic_names(s)
        agents = [AgentStatus(stage, "built-in", s.app_id, names[key]) for stage, key in STAGE_INPUT.items()]
        agents += [AgentStatus(a.name, "plugin", a.group, a.topic_name(s)) for a in self.plugins]
        if not result["kafka"]["healthy"]:
            result["agents"] = [a.to_dict() for a in agents]
            result["dead_letters"] = None
            return result
        groups: dict[str, list[str]] = {}
        for a in agents:
            groups.setdefault(a.group, []).append(a.topic)
        lag = self.lag.lag(groups)
        if self._tally is None:
            self._tally = _DeadLetterTally(s, kafka.consumer(s, None, client_id="newsstream-status-dlq"))
        self._tally.update(since_ms)
        recent_letters = self._tally.recent_by_stage()
        for a in agents:
            rows = [r for r in lag if r.group == a.group and r.topic == a.topic]
            a.lag = sum(r.lag for r in rows)
            a.partitions = [
                {"partition": r.partition, "committed": r.committed, "end": r.end, "lag": r.lag} for r in rows
            ]
            stages = [a.name] + (self.enrichers if a.name == "enrich" else [])
            for stage in stages:
                for reason, n in self._tally.by_stage.get(stage, {}).items():
                    a.dead_letters[reason] = a.dead_letters.get(reason, 0) + n
            letters = sum(recent_letters.get(stage, 0) for stage in stages)
            if a.kind == "plugin":
                a.last_minute = self._recent_committed(a.group, a.topic, since_ms)
            elif a.name in STAGE_OUTPUT:
                a.last_minute = self._recent(names[STAGE_OUTPUT[a.name]], since_ms) + letters
            else:  # index
                a.last_minute = (result["elasticsearch"].get("indexed_last_minute") or 0) + letters
            a.per_second = a.last_minute / WINDOW_SECONDS
        result["agents"] = [a.to_dict() for a in agents]
        result["dead_letters"] = {
            "total": self._tally.total,
            "counted": self._tally.counted,
            "by_stage": {stage: dict(sorted(c.items())) for stage, c in sorted(self._tally.by_stage.items())},
        }
        return result

    def close(self) -> None:
        self.lag.close()
        for c in (self._consumer, self._tally.consumer if self._tally else None, self._es):
            if c is not None:
                try:
                    c.close()
                except Exception:
                    pass
