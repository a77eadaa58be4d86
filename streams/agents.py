"""The built-in agents: parse -> enrich -> index, and their registration on a faust app.

Each stage is a batch handler. The parse and enrich work (:func:`streams.parsing.parse`,
:func:`streams.enrichment.enrich_batch` and the enricher plugins) runs in a
child process per stage with a time budget per message
(:class:`~streams.isolation.StagePool`, the work in :mod:`streams.stages`):
the event loop is never blocked, a message over its budget is dead-lettered
with reason ``timeout`` and one that kills the child twice with reason
``crash``. The index stage is the bulk writer
(:class:`indexers.elasticsearch.merging.MergingWriter`). What leaves a handler,
records and dead letters, goes through the
:class:`~streams.delivery.outbox.Outbox`, and the batches are cut, settled
and acknowledged by :mod:`streams.delivery.batching`: the same delivery path
as the plugins' consumer agents. A handler never lets a message's error
escape: the message is dead-lettered with its reason.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import faust

from indexers.elasticsearch.merging import MergingWriter
from indexers.elasticsearch.writer import to_document
from streams import metrics
from streams.app import Topics
from streams.delivery import batching, deadletters
from streams.delivery.batching import Batch
from streams.delivery.outbox import Outbox
from streams.isolation import Failure, StagePool
from streams.records import EnrichedArticle, RecordError, now_iso
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.plugins import Enricher

log = logging.getLogger(__name__)

#: The child processes' set-up functions (``module:function``, see :mod:`streams.isolation`).
PARSE_WORK = "streams.stages:parse_work"
ENRICH_WORK = "streams.stages:enrich_work"


class Pipeline:
    """The three built-in agents of one worker, registered on a faust app.

    Args:
        app: the faust App.
        topics: its topics (:func:`streams.app.create_topics`).
        settings: batch sizes, budgets, model, Elasticsearch.
        enrichers: the plugin enrichers (:mod:`streams.plugins`), for their
            names: a replayed letter of one is for the enrich stage. The enrich
            stage's child process loads and runs them.
    """

    def __init__(
        self, app: faust.App, topics: Topics, settings: Settings, enrichers: list[Enricher] | None = None
    ) -> None:
        self.app = app
        self.topics = topics
        self.settings = settings
        self.enrichers = enrichers or []
        self.outbox = Outbox(app, topics.dlq, settings)
        self.parse_pool = StagePool(
            PARSE_WORK,
            "parse",
            settings.parse_timeout_seconds,
            "NEWSSTREAM_PARSE_TIMEOUT_SECONDS",
            should_stop=lambda: self.outbox.should_stop,
        )
        self.enrich_pool = StagePool(
            ENRICH_WORK,
            "enrich",
            settings.enrich_timeout_seconds,
            "NEWSSTREAM_ENRICH_TIMEOUT_SECONDS",
            should_stop=lambda: self.outbox.should_stop,
        )
        self._writer: MergingWriter | None = None

    async def _send_answers(self, stage: str, topic: faust.TopicT, batch: Batch, answers: list[Any]) -> None:
        """Send each message's answer from the stage's child: its record, or its dead letter."""
        for (_value, event), answer in zip(batch, answers):
            if isinstance(answer, Failure):
                error = "StageTimeout" if answer.reason == "timeout" else "StageCrash"
                await self.outbox.dead_letter(stage, event, reason=answer.reason, error=error, detail=answer.detail)
            elif answer[0] == "ok":
                await self.outbox.send(topic, answer[1], answer[2], stage, event)
            else:
                _, letter_stage, reason, error, detail = answer
                await self.outbox.dead_letter(letter_stage, event, reason=reason[:500], error=error, detail=detail)

    # -------------------------------------------------------------- parse

    async def parse_batch(self, batch: Batch) -> None:
        items = [
            (bytes(value), deadletters.message_headers(event.message), event.message.key) for value, event in batch
        ]
        await self._send_answers("parse", self.topics.parsed, batch, await self.parse_pool.map(items))

    # -------------------------------------------------------------- enrich

    async def enrich_batch(self, batch: Batch) -> None:
        # the child keys each record by its title (streams.stages): the copies of one
        # article (HTML and text, ...) reach one index agent, in order
        answers = await self.enrich_pool.map([bytes(value) for value, _event in batch], together=True)
        await self._send_answers("enrich", self.topics.enriched, batch, answers)

    # -------------------------------------------------------------- index

    def writer(self) -> MergingWriter:
        """The index agent's writer, set up on first use (in the agent's event loop)."""
        if self._writer is None:
            self._writer = MergingWriter.from_settings(self.settings, should_stop=lambda: bool(self.app.should_stop))
        return self._writer

    async def close_writer(self) -> None:
        """Close the writer's Elasticsearch client when the worker stops."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await writer.close()

    async def index_batch(self, batch: Batch) -> None:
        docs: list[tuple[str, dict]] = []
        events: list[Any] = []
        ingested = now_iso("milliseconds")  # latency measurements need better than seconds
        for value, event in batch:
            try:
                record = EnrichedArticle.dict_from_bytes(value)
            except RecordError as exc:
                await self.outbox.dead_letter("index", event, exc)
                continue
            docs.append(to_document(record, ingested))
            events.append(event)
        if not docs:
            return
        result = await self.writer().write_merged(docs)
        acknowledged = time.time()
        if metrics.enabled():
            metrics.count_out("index", result.indexed)
            failed = {f.position for f in result.failures}
            metrics.observe_indexed(
                (metrics.origin_of(e.message).timestamp_ms for i, e in enumerate(events) if i not in failed),
                acknowledged,
            )
        for failure in result.failures:
            await self.outbox.dead_letter(
                "index",
                events[failure.position],
                reason=f"{failure.error_type}: {failure.reason}"[:500],
                error=failure.error_type,
                detail=f"HTTP {failure.status}",
            )
        parts = sorted({e.message.partition for e in events})
        offsets = [e.message.offset for e in events]
        log.info(
            "indexed batch: count=%d failed=%d partitions=%s offsets=%d..%d attempts=%d seconds=%.3f",
            result.indexed,
            len(result.failures),
            parts,
            min(offsets),
            max(offsets),
            result.attempts,
            result.seconds,
            extra={"stage": "index", "topic": self.settings.topic_enriched},
        )

    # -------------------------------------------------------------- registration

    def register(self, only: set[str] | None = None) -> None:
        """Register the agents ``parse``, ``enrich`` and ``index`` (or those in ``only``).

        The parse and enrich agents start their child process before their
        first batch and stop it when the worker stops. The index agent
        overlaps its bulk requests with taking the next batch
        (:func:`streams.delivery.batching.agent`) and closes its writer when
        the worker stops.
        """
        s = self.settings
        box = self.outbox
        # a replayed message is for the stage that failed it (an enricher's letter: the enrich stage)
        enrich_names = ["enrich", *(e.name for e in self.enrichers)]
        plan = {
            "parse": (
                self.topics.raw,
                batching.agent(
                    box,
                    "parse",
                    self.parse_batch,
                    100,
                    s.batch_max_seconds,
                    accepts=deadletters.accepts(["parse"]),
                    on_start=self.parse_pool.start,
                    on_stop=self.parse_pool.close,
                ),
            ),
            "enrich": (
                self.topics.parsed,
                batching.agent(
                    box,
                    "enrich",
                    self.enrich_batch,
                    s.enrich_batch_size,
                    s.batch_max_seconds,
                    accepts=deadletters.accepts(enrich_names),
                    on_start=self.enrich_pool.start,
                    on_stop=self.enrich_pool.close,
                ),
            ),
            "index": (
                self.topics.enriched,
                batching.agent(
                    box,
                    "index",
                    self.index_batch,
                    s.bulk_max_docs * s.bulk_max_in_flight,
                    s.bulk_max_seconds,
                    overlap=True,
                    on_stop=self.close_writer,
                    accepts=deadletters.accepts(["index"]),
                ),
            ),
        }
        for name, (topic, agent) in plan.items():
            if only and name not in only:
                continue
            self.app.agent(topic, name=f"newsstream.{name}")(agent)
