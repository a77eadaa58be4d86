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

Every record sent, output or dead letter, carries the ``newsstream-origin``
header of the raw message it comes from (:func:`streams.metrics.origin_header`),
and what Kafka acknowledged is counted (:mod:`streams.metrics`).

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

from streams import metrics
from streams.delivery import deadletters
from streams.kafka import over_limit
from streams.settings import Settings

log = logging.getLogger(__name__)

#: One tracked send: ``(future, stage, input event, dead letter bytes or None for an output,
#: the letter's reason class or None)``.
Sent = tuple[Any, str, Any, bytes | None, str | None]

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
    def _track(fut: Any, stage: str, event: Any, letter: bytes | None, reason: str | None = None) -> None:
        sent = _sent.get()
        if sent is not None:
            sent.append((fut, stage, event, letter, reason))

    @staticmethod
    def _headers(event: Any) -> list[tuple[str, bytes]]:
        return [(metrics.ORIGIN_HEADER, metrics.origin_header(event.message))]

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
            # the message's origin (metrics), and a replayed message's chain carried on (deadletters.lineage_headers)
            headers = self._headers(event) + (deadletters.lineage_headers(event) or [])
            fut = await topic.send(key=key, value=value, headers=headers)
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
        await self._send_letter(stage, event, letter.to_bytes(), metrics.reason_class(letter.error, letter.reason))

    async def _send_letter(self, stage: str, event: Any, value: bytes, reason: str) -> None:
        fut = await self.dlq.send(key=event.message.key, value=value, headers=self._headers(event))
        self._track(fut, stage, event, value, reason)

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
            results = await asyncio.gather(*(fut for fut, *_ in sent), return_exceptions=True)
            failed = [
                (stage, event, letter, res, reason)
                for (_, stage, event, letter, reason), res in zip(sent, results)
                if isinstance(res, Exception)
            ]
            if metrics.enabled():
                _count_taken(sent, results)
            sent.clear()
            if not failed:
                return
            for stage, event, letter, exc, _ in failed:
                if letter is None:
                    log.warning("%s: Kafka refused an output record: %r; dead-lettering its input", stage, exc)
                    await self.dead_letter(stage, event, exc, reason=f"output refused by Kafka: {exc!r}"[:500])
            letters = [
                (stage, event, letter, exc, reason)
                for stage, event, letter, exc, reason in failed
                if letter is not None
            ]
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
                for stage, event, letter, _, reason in letters:
                    await self._send_letter(stage, event, letter, reason or "error")
            await self.flush()


def _count_taken(sent: list[Sent], results: list[Any]) -> None:
    """Count the outputs (by stage) and dead letters (by stage and reason) Kafka acknowledged."""
    outputs: dict[str, int] = {}
    letters: dict[tuple[str, str], int] = {}
    for (_, stage, _, letter, reason), res in zip(sent, results):
        if isinstance(res, BaseException):
            continue
        if letter is None:
            outputs[stage] = outputs.get(stage, 0) + 1
        else:
            letters[(stage, reason or "error")] = letters.get((stage, reason or "error"), 0) + 1
    for stage, n in outputs.items():
        metrics.count_out(stage, n)
    for (stage, reason), n in letters.items():
        metrics.count_dead_letter(stage, reason, n)
