"""The outbox: how every agent's records leave it, built-in agents and plugin consumer agents alike.

One rule for everything an agent sends while it handles a batch:

* :meth:`Outbox.send` checks the record's size against
  ``settings.max_message_bytes`` (:func:`streams.kafka.over_limit`),
  queues it on the producer and tracks its future. A record too large, or
  one the producer refuses at once, dead-letters its input message instead.
* :meth:`Outbox.dead_letter` wraps the input message with the reason
  (:func:`streams.delivery.deadletters.from_event`) and sends it to the
  dead-letter topic, tracked the same way.
* :meth:`Outbox.settle` flushes the producer and waits for every tracked
  future. faust's ``topic.send`` only queues a message: a broker's refusal
  (a record over the topic's ``max.message.bytes``, say) shows only in its
  future, and ``producer.flush()`` does not raise it. An output Kafka refused
  dead-letters its input; a dead letter Kafka refused is sent again, with a
  growing pause (1 s to 30 s), until Kafka takes it.

The agent acknowledges a batch only after :meth:`Outbox.settle` returned
(:mod:`streams.delivery.batching`), so nothing is committed past a message
whose output is not safe. What a batch has sent is kept per asyncio task
(a context variable), so agents running side by side in one worker do not
settle each other's sends.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

import faust
from faust.exceptions import ProducerSendError

from streams.delivery import deadletters
from streams.kafka import over_limit
from streams.settings import Settings

log = logging.getLogger(__name__)

#: One tracked send: ``(future, stage, input event, dead letter bytes or None for an output)``.
Sent = tuple[Any, str, Any, bytes | None]

#: What the batch being handled has sent; each agent's task has its own list.
_sent: contextvars.ContextVar[list[Sent] | None] = contextvars.ContextVar("newsstream_sent", default=None)

#: Pauses between sends of a dead letter Kafka refused: the first, and the longest (seconds).
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 30.0


class Outbox:
    """Sends of one faust app's agents, tracked until Kafka has taken them.

    Args:
        app: the faust App (its producer is flushed; ``app.should_stop`` ends the retries).
        dlq: the dead-letter topic (raw bytes).
        settings: ``max_message_bytes`` (the largest record sent).
    """

    def __init__(self, app: faust.App, dlq: faust.TopicT, settings: Settings) -> None:
        self.app = app
        self.dlq = dlq
        self.settings = settings

    @property
    def should_stop(self) -> bool:
        """True once the worker is stopping."""
        return bool(self.app.should_stop)

    @staticmethod
    def begin() -> None:
        """Start tracking the sends of a new batch in this task (forgetting any before)."""
        _sent.set([])

    @staticmethod
    def _track(fut: Any, stage: str, event: Any, letter: bytes | None) -> None:
        sent = _sent.get()
        if sent is not None:
            sent.append((fut, stage, event, letter))

    async def send(self, topic: faust.TopicT, key: bytes | None, value: bytes, stage: str, event: Any) -> None:
        """Send an output record of ``event``'s message; one Kafka cannot take dead-letters the input instead.

        Never raises for a refused record: the input message goes to the
        dead-letter topic with the reason (``MessageTooLarge`` when ``value``
        is over ``settings.max_message_bytes``).
        """
        too_large = over_limit(self.settings, len(value))
        if too_large:
            await self.dead_letter(
                stage, event, reason=f"output record too large: {too_large}", error="MessageTooLarge"
            )
            return
        try:
            # a replayed message's output carries its chain on (deadletters.lineage_headers)
            fut = await topic.send(key=key, value=value, headers=deadletters.lineage_headers(event))
        except ProducerSendError as exc:
            await self.dead_letter(stage, event, exc, reason=f"output refused by Kafka: {exc}"[:500])
            return
        self._track(fut, stage, event, None)

    async def dead_letter(self, stage: str, event: Any, exc: BaseException | None = None, **kw: Any) -> None:
        """Send ``event``'s message to the dead-letter topic with the reason.

        ``exc`` and the keywords (``reason``, ``error``, ``detail``) are those
        of :func:`streams.delivery.deadletters.from_event`.
        """
        letter = deadletters.from_event(
            stage, event, exc, max_original_bytes=deadletters.original_budget(self.settings), **kw
        )
        await self._send_letter(stage, event, letter.to_bytes())

    async def _send_letter(self, stage: str, event: Any, value: bytes) -> None:
        fut = await self.dlq.send(key=event.message.key, value=value)
        self._track(fut, stage, event, value)

    async def flush(self) -> None:
        """Wait until Kafka has acknowledged everything this worker produced."""
        await self.app.producer.flush()

    async def settle(self) -> None:
        """Flush, then make sure Kafka took everything the batch sent.

        An output Kafka refused dead-letters its input message; a dead letter
        Kafka refused is sent again, with a growing pause (:data:`FIRST_PAUSE`
        to :data:`LONGEST_PAUSE` seconds), until Kafka takes it: the batch is
        not acked meanwhile, so nothing after it is committed either.

        Raises:
            asyncio.CancelledError: the worker stops first (the batch is then
                delivered again after the restart).
        """
        await self.flush()
        pause = FIRST_PAUSE
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
                if self.should_stop:
                    raise asyncio.CancelledError("stopping with a dead letter Kafka refused")
                log.error(
                    "%s: Kafka refused a dead letter (%d in this batch; %r); sending again in %.0f s",
                    letters[0][0],
                    len(letters),
                    letters[0][3],
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)
                for stage, event, letter, _ in letters:
                    await self._send_letter(stage, event, letter)
            await self.flush()
