"""The built-in agents: parse -> enrich -> index, and their registration on a faust app.

Each stage is a batch handler; the work is done by pure functions
(:func:`streams.parsing.parse`, :func:`streams.enrichment.enrich_batch`) and
by the bulk writer (:class:`indexers.elasticsearch.merging.MergingWriter`). What
leaves a handler, records and dead letters, goes through the
:class:`~streams.delivery.outbox.Outbox`, and the batches are cut, settled
and acknowledged by :mod:`streams.delivery.batching`: the same delivery path
as the plugins' consumer agents. A handler never lets a message's error
escape: the message is dead-lettered with its reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import faust

from indexers.elasticsearch.merge import routing_key
from indexers.elasticsearch.merging import MergingWriter
from indexers.elasticsearch.writer import to_document
from streams import metrics
from streams.app import Topics
from streams.delivery import batching, deadletters
from streams.delivery.batching import Batch
from streams.delivery.outbox import Outbox
from streams.parsing import ParseRejected, parse
from streams.publish import raw_key
from streams.records import EnrichedArticle, ParsedArticle, RecordError, decode_raw, now_iso
from streams.settings import Settings

if TYPE_CHECKING:
    from spacy.language import Language

    from streams.plugins import Enricher

log = logging.getLogger(__name__)


class Pipeline:
    """The three built-in agents of one worker, registered on a faust app.

    Args:
        app: the faust App.
        topics: its topics (:func:`streams.app.create_topics`).
        settings: batch sizes, model, Elasticsearch.
        enrichers: plugin enrichers run after the built-in enrichment
            (:mod:`streams.plugins`); each returns extra fields.
    """

    def __init__(
        self, app: faust.App, topics: Topics, settings: Settings, enrichers: list[Enricher] | None = None
    ) -> None:
        self.app = app
        self.topics = topics
        self.settings = settings
        self.enrichers = enrichers or []
        self.outbox = Outbox(app, topics.dlq, settings)
        self._nlp: Language | None = None
        self._writer: MergingWriter | None = None

    # -------------------------------------------------------------- parse

    async def parse_batch(self, batch: Batch) -> None:
        for value, event in batch:
            try:
                raw = decode_raw(value, deadletters.message_headers(event.message))
                parsed = parse(raw)
                parsed.raw_key = raw_key(event.message.key, raw)
            except (RecordError, ParseRejected) as exc:
                await self.outbox.dead_letter("parse", event, exc)
                continue
            except Exception as exc:  # a parser bug must not stop the stream
                log.exception("parse failed")
                await self.outbox.dead_letter("parse", event, exc, reason=f"parser error: {exc.__class__.__name__}")
                continue
            await self.outbox.send(self.topics.parsed, parsed.id.encode(), parsed.to_bytes(), "parse", event)

    # -------------------------------------------------------------- enrich

    def nlp(self) -> Language:
        """Load the spaCy pipeline and the gazetteer, once per process."""
        if self._nlp is None:
            # imported here, not at the top: spaCy and the enrichment rules add
            # about 48 MB of memory and 0.6-1.4 s of start-up (measured) to every
            # process that imports this module, and only the enrich stage needs them
            from streams.enrichment import load_nlp  # noqa: PLC0415
            from streams.enrichment.gazetteer import gazetteer  # noqa: PLC0415

            self._nlp = load_nlp(self.settings.spacy_model)
            gazetteer()  # built once per process (about 1 s): at start, not in the first batch
        return self._nlp

    def _enrich_sync(self, articles: list[ParsedArticle]) -> list[EnrichedArticle | BaseException]:
        """Enrich a batch in one nlp.pipe; on an error, article by article to isolate it."""
        from streams.enrichment import enrich, enrich_batch  # noqa: PLC0415  (see nlp())

        nlp = self.nlp()
        try:
            out: list[EnrichedArticle | BaseException] = list(enrich_batch(articles, nlp))
        except Exception:
            out = []
            for article in articles:
                try:
                    out.append(enrich(article, nlp))
                except Exception as exc:
                    out.append(exc)
        for i, item in enumerate(out):
            if isinstance(item, EnrichedArticle) and self.enrichers:
                for plugin in self.enrichers:
                    try:
                        item.extra.update(plugin.run(item))
                    except Exception as exc:
                        exc.plugin = plugin.name  # type: ignore[attr-defined]
                        out[i] = exc
                        break
        return out

    async def enrich_batch(self, batch: Batch) -> None:
        good: list[tuple[ParsedArticle, Any]] = []
        for value, event in batch:
            try:
                good.append((ParsedArticle.from_bytes(value), event))
            except RecordError as exc:
                await self.outbox.dead_letter("enrich", event, exc)
        if not good:
            return
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(None, self._enrich_sync, [a for a, _ in good])
        for (_, event), result in zip(good, results):
            if isinstance(result, BaseException):
                stage = getattr(result, "plugin", None) or "enrich"
                await self.outbox.dead_letter(stage, event, result, reason=f"{stage} error: {result}")
                continue
            # keyed by title: the copies of one article (HTML and text, ...) reach one index agent in order
            key = routing_key(result.title, result.id)
            await self.outbox.send(self.topics.enriched, key, result.to_bytes(), "enrich", event)

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

        The index agent overlaps its bulk requests with taking the next batch
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
                    box, "parse", self.parse_batch, 100, s.batch_max_seconds, accepts=deadletters.accepts(["parse"])
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
