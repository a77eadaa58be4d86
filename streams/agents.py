"""Thin faust agents: parse -> enrich -> index, every rejection to the dead-letter topic.

Each agent is an ``async for`` over batches of ``(value, event)`` pairs; the
work is done by pure functions (:func:`streams.parsing.parse`,
:func:`streams.enrichment.enrich_batch`) and by the bulk writer. Delivery
rules, the same for the three agents:

* A message is acknowledged (its offset becomes committable) only after its
  output — the next record, the Elasticsearch document or the dead letter —
  has been acknowledged by Kafka or Elasticsearch: outputs are flushed and
  each send's result checked (:meth:`Pipeline.settle`), then the batch is
  acked. An output Kafka refuses dead-letters its input; a dead letter Kafka
  refuses is sent again until it is taken. A crash in between re-delivers
  the batch (at least once), and the stable ids make the re-delivery harmless.
* Nothing an agent does for one message can raise out of the loop: faust acks
  a message whose agent raised, which would skip it. Every error becomes a
  dead letter with its reason, and the agent keeps consuming.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from typing import Any, AsyncIterator

import faust
from faust.exceptions import ProducerSendError

from indexers.elasticsearch.writer import BulkWriter, to_document
from streams.app import Topics
from streams.delivery import deadletters
from streams.records import EnrichedArticle, ParsedArticle, RecordError, decode_raw, now_iso
from streams.settings import Settings

log = logging.getLogger(__name__)

Batch = list[tuple[bytes, Any]]  # (value, faust event)

#: What the batch being handled has sent: ``(future, stage, event, dead letter bytes or None)``.
#: faust's ``topic.send`` only queues a message; a broker's refusal (a record
#: over the topic's ``max.message.bytes``, say) shows only in its future, and
#: ``producer.flush()`` does not raise it. Each agent's task has its own list.
_sent: contextvars.ContextVar[list | None] = contextvars.ContextVar("newsstream_sent", default=None)


async def batches(stream: faust.StreamT, max_n: int, within: float) -> AsyncIterator[Batch]:
    """Yield batches of ``(value, event)``: at most ``max_n``, handed over at most
    ``within`` seconds after the batch's first message arrived.

    Nothing is acked here: the caller acks each batch with :func:`ack` once its
    outputs are safe, so a batch interrupted by a shutdown is delivered again
    rather than skipped.

    This is faust-streaming 0.15.3's ``Stream.noack_take`` (same buffer, same
    processor hook) with one change: while no message is buffered it waits for
    one without a timer. ``noack_take`` wakes up every ``within`` seconds even
    when the topic is idle; with three agents at 0.05-0.1 s that kept an idle
    worker process at 2.3% of a core (0.7 CPU-s in 30 s, measured), all of it
    taken from NER when the worker is busy on other partitions.
    """
    buffer: list[Any] = []  # faust events
    full = asyncio.Event()  # max_n buffered: hand the batch over now
    nonempty = asyncio.Event()  # the first message of a batch arrived
    consumed = asyncio.Event()
    consuming: asyncio.Future | None = None

    async def add_to_buffer(value: Any) -> Any:
        # runs inside the stream for every message, as noack_take's processor does
        nonlocal consuming
        if consuming is not None:
            try:
                await consuming  # the batch is being handed over: wait for the next one
            finally:
                consuming = None
        event = stream.current_event
        if event is None:
            raise RuntimeError("take buffer found current_event is None")
        buffer.append(event)
        nonempty.set()
        if len(buffer) >= max_n:
            full.set()
            consumed.clear()
            await stream.wait(consumed)  # never more than max_n in a batch
        return value

    enable_acks = stream.enable_acks
    stream.enable_acks = False  # the caller acks
    stream.add_processor(add_to_buffer)
    stream._enable_passive(aiter(stream.channel))  # noqa: SLF001 (as noack_take does)
    try:
        while not stream.should_stop:
            if not buffer:
                await stream.wait_for_stopped(nonempty)
            if buffer and not full.is_set():
                await stream.wait_for_stopped(full, timeout=within)
            if not buffer:
                continue
            handover = consuming = asyncio.get_running_loop().create_future()
            try:
                yield [(event.value, event) for event in buffer]
            finally:
                buffer.clear()
                nonempty.clear()
                if not handover.done():
                    handover.set_result(None)  # let the stream buffer again
                full.clear()
                consumed.set()
    finally:
        # Acks stay off unless the stream is stopping: if the agent crashed (a
        # batch whose dead letters could not even be written), faust restarts
        # it on the same stream, and with acks back on the messages flowing
        # meanwhile would be acked without any handler (found by a review,
        # reproduced; faust's noack_take does restore them).
        if stream.should_stop:
            stream.enable_acks = enable_acks
        stream._processors.remove(add_to_buffer)  # noqa: SLF001


def _track(fut: Any, stage: str, event, letter: bytes | None) -> None:
    """Record a send of the batch being handled, for :meth:`Pipeline.settle`."""
    sent = _sent.get()
    if sent is not None:
        sent.append((fut, stage, event, letter))


async def ack(stream: faust.StreamT, batch: Batch) -> None:
    """Acknowledge every event of ``batch`` (their offsets become committable)."""
    for _, event in batch:
        await stream.ack(event)


def _headers(event) -> dict[str, bytes]:
    headers = event.message.headers or {}
    if isinstance(headers, dict):
        return {k: v for k, v in headers.items() if isinstance(v, (bytes, bytearray))}
    return {k: v for k, v in headers if isinstance(v, (bytes, bytearray))}


def _retrieve(future: asyncio.Future) -> None:
    """Mark a future's outcome as seen (at shutdown the stream's generator ends with
    StopAsyncIteration in a task nobody awaits any more; asyncio would log it as an error)."""
    if not future.cancelled():
        future.exception()


class Pipeline:
    """The three built-in agents of one worker, registered on a faust app.

    Args:
        app: the faust App.
        topics: its topics (:func:`streams.app.create_topics`).
        settings: batch sizes, model, Elasticsearch URL.
        enrichers: plugin enrichers run after the built-in enrichment
            (:mod:`streams.plugins`); each returns extra fields.
    """

    def __init__(self, app: faust.App, topics: Topics, settings: Settings, enrichers: list | None = None) -> None:
        self.app = app
        self.topics = topics
        self.settings = settings
        self.enrichers = enrichers or []
        self._nlp = None
        self._es = None

    # -------------------------------------------------------------- helpers

    async def dead_letter(self, stage: str, event, exc: BaseException | None = None, **kw) -> None:
        """Send ``event``'s message to the dead-letter topic with the reason."""
        letter = deadletters.from_event(
            stage, event, exc, max_original_bytes=deadletters.original_budget(self.settings), **kw
        )
        await self._send_letter(stage, event, letter.to_bytes())

    async def _send_letter(self, stage: str, event, value: bytes) -> None:
        fut = await self.topics.dlq.send(key=event.message.key, value=value)
        _track(fut, stage, event, value)

    async def emit(self, topic: faust.TopicT, key: bytes, value: bytes, stage: str, event) -> None:
        """Send an output record; one Kafka cannot take (too large) dead-letters its input instead."""
        limit = self.settings.max_message_bytes
        if len(value) > limit:
            await self.dead_letter(
                stage,
                event,
                reason=f"output record too large: {len(value)} bytes, the limit is {limit} (NEWSSTREAM_MAX_MESSAGE_BYTES)",
                error="MessageTooLarge",
            )
            return
        try:
            fut = await topic.send(key=key, value=value)
        except ProducerSendError as exc:
            await self.dead_letter(stage, event, exc, reason=f"output refused by Kafka: {exc}"[:500])
            return
        _track(fut, stage, event, None)

    async def settle(self) -> None:
        """Flush, then make sure Kafka took everything the batch sent.

        An output Kafka refused dead-letters its input message; a dead letter
        Kafka refused is sent again, with a growing pause (1 s to 30 s), until
        Kafka takes it: the batch is not acked meanwhile, so nothing after it
        is committed either. Raises ``asyncio.CancelledError`` when the worker
        stops first (the batch is then delivered again after the restart).
        """
        await self.flush()
        pause = 1.0
        while True:
            sent = _sent.get() or []
            # the futures resolve in callbacks after the flush: wait for each
            results = await asyncio.gather(*(fut for fut, _, _, _ in sent), return_exceptions=True)
            failed = [
                (stage, event, letter, res)
                for (_, stage, event, letter), res in zip(sent, results)
                if isinstance(res, Exception)
            ]
            sent.clear()
            if not failed:
                return
            for stage, event, letter, exc in failed:
                if letter is None:
                    log.warning("%s: Kafka refused an output record: %r; dead-lettering its input", stage, exc)
                    await self.dead_letter(stage, event, exc, reason=f"output refused by Kafka: {exc!r}"[:500])
            letters = [(stage, event, letter, exc) for stage, event, letter, exc in failed if letter is not None]
            if letters:  # one pause per round, however many letters were refused
                if self.app.should_stop:
                    raise asyncio.CancelledError("stopping with a dead letter Kafka refused")
                log.error(
                    "%s: Kafka refused a dead letter (%d in this batch; %r); sending again in %.0f s",
                    letters[0][0],
                    len(letters),
                    letters[0][3],
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
                for stage, event, letter, _ in letters:
                    await self._send_letter(stage, event, letter)
            await self.flush()

    async def flush(self) -> None:
        """Wait until Kafka has acknowledged everything this worker produced."""
        await self.app.producer.flush()

    # -------------------------------------------------------------- parse

    async def parse_batch(self, batch: Batch) -> None:
        from streams.parsing import ParseRejected, parse

        for value, event in batch:
            try:
                raw = decode_raw(value, _headers(event))
                parsed = parse(raw)
            except (RecordError, ParseRejected) as exc:
                await self.dead_letter("parse", event, exc)
                continue
            except Exception as exc:  # a parser bug must not stop the stream
                log.exception("parse failed")
                await self.dead_letter("parse", event, exc, reason=f"parser error: {exc.__class__.__name__}")
                continue
            await self.emit(self.topics.parsed, parsed.id.encode(), parsed.to_bytes(), "parse", event)

    # -------------------------------------------------------------- enrich

    def nlp(self):
        if self._nlp is None:
            from streams.enrichment import load_nlp
            from streams.enrichment.gazetteer import gazetteer

            self._nlp = load_nlp(self.settings.spacy_model)
            gazetteer()  # built once per process (about 1 s): at start, not in the first batch
        return self._nlp

    def _enrich_sync(self, articles: list[ParsedArticle]) -> list[EnrichedArticle | BaseException]:
        """Enrich a batch in one nlp.pipe; on an error, article by article to isolate it."""
        from streams.enrichment import enrich, enrich_batch

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
                try:
                    for plugin in self.enrichers:
                        item.extra.update(plugin.run(item))
                except Exception as exc:
                    exc.plugin = plugin.name  # type: ignore[attr-defined]
                    out[i] = exc
        return out

    async def enrich_batch(self, batch: Batch) -> None:
        good: list[tuple[ParsedArticle, Any]] = []
        for value, event in batch:
            try:
                good.append((ParsedArticle.from_bytes(value), event))
            except RecordError as exc:
                await self.dead_letter("enrich", event, exc)
        if not good:
            return
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(None, self._enrich_sync, [a for a, _ in good])
        for (_, event), result in zip(good, results):
            if isinstance(result, BaseException):
                stage = getattr(result, "plugin", None) or "enrich"
                await self.dead_letter(stage, event, result, reason=f"{stage} error: {result}")
                continue
            await self.emit(self.topics.enriched, result.id.encode(), result.to_bytes(), "enrich", event)

    # -------------------------------------------------------------- index

    def writer(self) -> BulkWriter:
        if self._es is None:
            from elasticsearch import AsyncElasticsearch

            s = self.settings
            client = AsyncElasticsearch(s.elasticsearch_url, request_timeout=60, retry_on_timeout=False, max_retries=0)
            self._es = BulkWriter(
                client,
                s.index_alias,
                max_docs=s.bulk_max_docs,
                max_bytes=s.bulk_max_bytes,
                max_in_flight=s.bulk_max_in_flight,
                initial_backoff=s.bulk_retry_initial_seconds,
                max_backoff=s.bulk_retry_max_seconds,
                should_stop=lambda: self.app.should_stop,
            )
        return self._es

    async def close_writer(self) -> None:
        """Close the Elasticsearch client when the worker stops (its HTTP
        session would otherwise be reported as unclosed at exit)."""
        writer, self._es = self._es, None
        if writer is not None:
            try:
                await writer.client.close()
            except Exception:  # stopping anyway: a failed close loses nothing
                log.debug("closing the Elasticsearch client failed", exc_info=True)

    async def index_batch(self, batch: Batch) -> None:
        docs: list[tuple[str, dict]] = []
        events: list[Any] = []
        ingested = now_iso("milliseconds")  # latency measurements need better than seconds
        for value, event in batch:
            try:
                record = EnrichedArticle.dict_from_bytes(value)
            except RecordError as exc:
                await self.dead_letter("index", event, exc)
                continue
            docs.append(to_document(record, ingested))
            events.append(event)
        if not docs:
            return
        result = await self.writer().write(docs)
        for failure in result.failures:
            await self.dead_letter(
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
        )

    # -------------------------------------------------------------- registration

    def register(self, only: set[str] | None = None) -> None:
        """Register the agents ``parse``, ``enrich`` and ``index`` (or those in ``only``)."""
        s = self.settings
        plan = [  # the index agent overlaps its bulk requests with taking the next batch
            ("parse", self.topics.raw, self.parse_batch, 100, s.batch_max_seconds, False),
            ("enrich", self.topics.parsed, self.enrich_batch, s.enrich_batch_size, s.batch_max_seconds, False),
            (
                "index",
                self.topics.enriched,
                self.index_batch,
                s.bulk_max_docs * s.bulk_max_in_flight,
                s.bulk_max_seconds,
                True,
            ),
        ]
        for name, topic, handler, max_n, within, overlap in plan:
            if only and name not in only:
                continue
            self.app.agent(topic, name=f"newsstream.{name}")(self._agent(name, handler, max_n, within, overlap))

    async def one_by_one(self, name: str, handler, batch: Batch) -> None:
        """Handle each message of a failed batch alone; dead-letter those that still fail.

        A dead letter Kafka refuses is sent again until it is taken (see
        :meth:`settle`); raises only on an error sending it at all, and then
        the batch is not acked and is delivered again after a restart.
        """
        for item in batch:
            try:
                await handler([item])
                await self.settle()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self.dead_letter(name, item[1], exc, reason=f"{name} failed: {exc}"[:500])
                await self.settle()

    async def _handle(self, name: str, handler, stream: faust.StreamT, batch: Batch) -> None:
        """Handle one batch, flush its outputs, then ack it (see the module's delivery rules)."""
        started = time.monotonic()
        _sent.set([])  # this task's record of what the batch sends (see settle)
        try:
            await handler(batch)
            await self.settle()
        except asyncio.CancelledError:
            raise
        except Exception:
            # never let the agent crash (faust would ack past the batch):
            # redo the batch message by message, dead-lettering what fails
            log.exception("%s: a batch of %d failed; handling it message by message", name, len(batch))
            _sent.set([])
            await self.one_by_one(name, handler, batch)
        await ack(stream, batch)
        log.debug("%s: %d messages in %.3f s", name, len(batch), time.monotonic() - started)

    def _agent(self, name: str, handler, max_n: int, within: float, overlap: bool = False):
        """Build the agent function: batches of at most ``max_n`` after at most ``within`` seconds.

        With ``overlap`` (the index agent), a batch is handled in a task while
        the stream goes on filling the next one, so the bulk requests are not
        idle while faust hands over events one by one; what arrives while a
        batch is being written is gathered (up to ``max_n``) and written as
        soon as that batch is done. Batches are still handled and acked
        strictly in order: one starts only after the one before it was acked.
        """

        async def agent(stream):
            if not overlap:
                async for batch in batches(stream, max_n, within):
                    await self._handle(name, handler, stream, batch)
                return
            try:
                await self._overlapped(name, handler, stream, max_n, within)
            finally:
                if self.app.should_stop:
                    await self.close_writer()

        agent.__name__ = f"{name}_agent"
        return agent

    async def _overlapped(self, name: str, handler, stream: faust.StreamT, max_n: int, within: float) -> None:
        """The ``overlap`` loop of :meth:`_agent`: one batch written, the next ones taken meanwhile."""
        source = batches(stream, max_n, within).__aiter__()
        taking: asyncio.Future | None = None  # the stream's next batch
        pending: asyncio.Future | None = None  # the batch being written
        held: Batch = []  # taken while a batch was being written
        ended = False
        try:
            while True:
                if pending is None and held:
                    pending = asyncio.ensure_future(self._handle(name, handler, stream, held[:max_n]))
                    held = held[max_n:]
                if taking is None and not ended and len(held) < max_n:
                    taking = asyncio.ensure_future(source.__anext__())
                waits = [f for f in (taking, pending) if f is not None]
                if not waits:
                    return
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if taking is not None and taking.done():
                    try:
                        held.extend(taking.result())
                    except StopAsyncIteration:
                        ended = True
                    taking = None
                if pending is not None and pending.done():
                    if pending.cancelled() or isinstance(pending.exception(), asyncio.CancelledError):
                        # the writer gave up on an unacknowledged batch because we are stopping
                        if self.app.should_stop:
                            return
                        raise asyncio.CancelledError("a batch was cancelled")
                    pending.result()  # re-raises only what the batch could not even dead-letter
                    pending = None
        finally:
            for future in (taking, pending):
                if future is None:
                    continue
                if future.done():
                    _retrieve(future)
                else:
                    future.cancel()
                    future.add_done_callback(_retrieve)
