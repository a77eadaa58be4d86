"""Running a consumer agent: its context (``ctx.send`` from a plain or an async function) and its
registration on a faust app, on the same delivery path as the built-in agents."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import faust

from streams.app import Topics
from streams.delivery import batching, deadletters
from streams.delivery.batching import Batch
from streams.delivery.outbox import Outbox
from streams.records import DeadLetter, EnrichedArticle, ParsedArticle, decode_raw, dumps
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.plugins import ConsumerAgent

log = logging.getLogger(__name__)


class Sending:
    """A record :meth:`PluginContext.send` will publish: awaiting it publishes it now.

    A plain function cannot await, and an async one may forget to: what is
    not awaited is published when the handler returns (in the order of the
    ``send`` calls), through the same outbox. Either way the record is on
    its way before the message is acknowledged.
    """

    __slots__ = ("ctx", "done", "key", "topic", "value")

    def __init__(self, ctx: PluginContext, topic: str, value: bytes, key: bytes | None) -> None:
        self.ctx = ctx
        self.topic = topic
        self.value = value
        self.key = key
        self.done = False

    def __await__(self):
        return self.ctx._deliver(self).__await__()


class PluginContext:
    """What a consumer agent gets besides the record: settings, and ``send`` to any topic.

    ``ctx.send(topic, value, key=None)`` works from a plain function and
    from an async one, awaited or not (:class:`Sending`). What it publishes
    leaves through the agent's :class:`~streams.delivery.outbox.Outbox`, as
    the built-in agents' records do: the batch is acknowledged only once
    Kafka has taken it, and a record Kafka refuses dead-letters the message
    being handled.
    """

    def __init__(self, app: faust.App, settings: Settings, outbox: Outbox, stage: str) -> None:
        self.app = app
        self.settings = settings
        self._outbox = outbox
        self._stage = stage
        self._topics: dict[str, faust.TopicT] = {}
        self._event: Any = None  # the message being handled
        self._pending: list[Sending] = []

    def send(self, topic: str, value: Any, key: str | bytes | None = None) -> Sending:
        """Publish ``value`` (bytes, str, a record or a JSON-able value) to ``topic``, keyed by ``key``.

        Returns a :class:`Sending`: ``await`` it in an async function to
        publish at once; otherwise it is published when the handler returns.
        """
        if isinstance(value, str):
            value = value.encode()
        elif not isinstance(value, (bytes, bytearray)):
            value = dumps(value)
        if isinstance(key, str):
            key = key.encode()
        sending = Sending(self, topic, bytes(value), key)
        self._pending.append(sending)
        return sending

    async def _deliver(self, until: Sending | None = None) -> None:
        """Publish the pending sends in call order, up to ``until`` (all when None)."""
        while self._pending:
            sending = self._pending.pop(0)
            if not sending.done:
                sending.done = True
                if sending.topic not in self._topics:
                    topic = self.app.topic(sending.topic, value_serializer="raw", key_serializer="raw")
                    # created now if missing (the app's partitions): producing to a topic that does not exist
                    # relies on the broker creating it, which many clusters forbid, and makes aiokafka log an ERROR
                    await topic.maybe_declare()
                    self._topics[sending.topic] = topic
                await self._outbox.send(
                    self._topics[sending.topic], sending.key, sending.value, self._stage, self._event
                )
            if sending is until:
                return

    def _begin(self, event: Any) -> None:
        self._event = event
        self._pending.clear()


_DECODERS: dict[str, Callable[[bytes], Any]] = {
    "raw": decode_raw,
    "parsed": ParsedArticle.from_bytes,
    "enriched": EnrichedArticle.from_bytes,
    "dlq": DeadLetter.from_bytes,
}


def _as_is(value: bytes) -> bytes:
    return value


def _decoder(agent: ConsumerAgent) -> Callable[[bytes], Any]:
    """Records of our topics are decoded; any other topic's are passed as they are (bytes)."""
    return _DECODERS.get(agent.topic, _as_is)


def register_consumer_agent(app: faust.App, topics: Topics, settings: Settings, agent: ConsumerAgent) -> None:
    """Register one consumer agent on ``app`` (an app whose id is the agent's group).

    Its batches are cut, settled and acknowledged as the built-in agents'
    (:mod:`streams.delivery.batching`); a record its handler raises on is
    dead-lettered under the agent's name, and a dead letter Kafka refuses is
    sent again until Kafka takes it.
    """
    outbox = Outbox(app, topics.dlq, settings)
    ctx = PluginContext(app, settings, outbox, agent.name)
    decode = _decoder(agent)
    source = app.topic(agent.topic_name(settings), value_serializer="raw", key_serializer="raw")

    handler = agent.handler

    async def handle(batch: Batch) -> None:
        loop = asyncio.get_running_loop()
        for value, event in batch:
            ctx._begin(event)
            try:
                record = decode(value)
                if agent.is_async:
                    await handler(record, ctx)
                else:
                    # a plain function runs in a thread: it may block (an HTTP call, a file)
                    # without stopping the worker's event loop and its heartbeats
                    result = await loop.run_in_executor(None, handler, record, ctx)
                    if inspect.isawaitable(result):  # a callable that returns a coroutine without being async def
                        await result
                await ctx._deliver()
            except Exception as exc:
                log.exception("consumer agent %s failed", agent.name)
                await outbox.dead_letter(agent.name, event, exc, reason=f"{agent.name} error: {exc}"[:500])

    run = batching.agent(
        outbox, agent.name, handle, 100, settings.batch_max_seconds, accepts=deadletters.accepts([agent.name])
    )
    run.__name__ = agent.name
    app.agent(source, name=f"plugin.{agent.name}")(run)
