"""Batches from a faust stream, handled and acknowledged strictly in order.

:func:`batches` cuts a stream into batches without acking anything;
:func:`agent` builds the agent function every agent runs, built-in or
plugin: for each batch, the handler, then :meth:`Outbox.settle
<streams.delivery.outbox.Outbox.settle>`, then the ack (:func:`handle`).

* A message is acknowledged (its offset becomes committable) only after its
  outputs, the next record, the Elasticsearch document or the dead letter,
  have been acknowledged. A crash in between re-delivers the batch (at
  least once), and the stable ids make the re-delivery harmless.
* Nothing a handler does for one message can raise out of the loop: faust
  acks a message whose agent raised, which would skip it. A batch whose
  handler raised is handled again message by message, and a message that
  still fails is dead-lettered with its reason (:func:`one_by_one`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import faust
from faust.types import ChannelT

from streams import logs, metrics
from streams.delivery.outbox import Outbox

log = logging.getLogger(__name__)

#: ``(value, faust event)`` pairs, in the order the stream delivered them.
Batch = list[tuple[bytes, Any]]

#: A batch handler: sends its outputs and dead letters through an :class:`Outbox`.
Handler = Callable[[Batch], Awaitable[None]]


async def batches(stream: faust.Stream, max_n: int, within: float) -> AsyncIterator[Batch]:
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
            # never more than max_n in a batch; mode's typing names only its own
            # Event, but it waits on anything with .wait() (faust's noack_take does this)
            await stream.wait(consumed)  # type: ignore[arg-type]
        return value

    enable_acks = stream.enable_acks
    stream.enable_acks = False  # the caller acks
    stream.add_processor(add_to_buffer)
    stream._enable_passive(cast(ChannelT, aiter(stream.channel)))  # private: as noack_take does
    try:
        while not stream.should_stop:
            if not buffer:
                await stream.wait_for_stopped(nonempty)  # type: ignore[arg-type]  # (as above)
            if buffer and not full.is_set():
                await stream.wait_for_stopped(full, timeout=within)  # type: ignore[arg-type]  # (as above)
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
        stream._processors.remove(add_to_buffer)  # private: as noack_take does


async def ack(stream: faust.Stream, batch: Batch) -> None:
    """Acknowledge every event of ``batch`` (their offsets become committable)."""
    for _, event in batch:
        await stream.ack(event)


async def one_by_one(outbox: Outbox, name: str, handler: Handler, batch: Batch) -> None:
    """Handle each message of a failed batch alone; dead-letter those that still fail.

    A dead letter Kafka refuses is sent again until it is taken (see
    :meth:`Outbox.settle`); raises only on an error sending it at all, and
    then the batch is not acked and is delivered again after a restart.
    """
    for item in batch:
        try:
            await handler([item])
            await outbox.settle()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await outbox.dead_letter(name, item[1], exc, reason=f"{name} failed: {exc}"[:500])
            await outbox.settle()


async def handle(
    outbox: Outbox,
    name: str,
    handler: Handler,
    stream: faust.Stream,
    batch: Batch,
    accepts: Callable[[Any], bool] | None = None,
) -> None:
    """Handle one batch, settle its outputs, then ack it (see the module's delivery rules).

    ``accepts(event)`` false: a replayed message for another stage
    (:func:`streams.delivery.deadletters.accepts`), acked without handling.

    Counts the batch's messages in, its size and its duration until acked (:mod:`streams.metrics`).
    """
    started = time.monotonic()
    logs.log_stage.set(name)
    metrics.count_in(name, len(batch))
    outbox.begin()  # this task's record of what the batch sends (see Outbox.settle)
    mine = [item for item in batch if accepts(item[1])] if accepts is not None else batch
    try:
        if mine:
            await handler(mine)
        await outbox.settle()
    except asyncio.CancelledError:
        raise
    except Exception:
        # never let the agent crash (faust would ack past the batch):
        # redo the batch message by message, dead-lettering what fails
        log.exception("%s: a batch of %d failed; handling it message by message", name, len(batch))
        outbox.begin()
        await one_by_one(outbox, name, handler, mine)
    await ack(stream, batch)
    seconds = time.monotonic() - started
    metrics.observe_batch(name, len(batch), seconds)
    log.debug("%s: %d messages in %.3f s", name, len(batch), seconds)


def agent(
    outbox: Outbox,
    name: str,
    handler: Handler,
    max_n: int,
    within: float,
    overlap: bool = False,
    on_start: Callable[[], Awaitable[None]] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
    accepts: Callable[[Any], bool] | None = None,
) -> Callable[[faust.StreamT], Awaitable[None]]:
    """Build an agent function: batches of at most ``max_n`` after at most ``within`` seconds.

    With ``overlap`` (the index agent), a batch is handled in a task while
    the stream goes on filling the next one, so the bulk requests are not
    idle while faust hands over events one by one; what arrives while a
    batch is being written is gathered (up to ``max_n``) and written as
    soon as that batch is done. Batches are still handled and acked
    strictly in order: one starts only after the one before it was acked.
    ``on_start`` is awaited before the first batch is taken (the parse and
    enrich agents start their child process there), ``on_stop`` when the
    agent ends because the worker stops (the index agent closes its
    Elasticsearch client there, the parse and enrich agents their child).
    ``accepts`` picks the messages this agent handles (the others are acked
    untouched): see :func:`handle`.
    """

    async def run(agent_stream: faust.StreamT) -> None:
        stream = cast(faust.Stream, agent_stream)  # what faust gives an agent
        try:
            if on_start is not None:
                await on_start()
            if overlap:
                await _overlapped(outbox, name, handler, stream, max_n, within, accepts)
            else:
                async for batch in batches(stream, max_n, within):
                    await handle(outbox, name, handler, stream, batch, accepts)
        finally:
            if on_stop is not None and outbox.should_stop:
                await on_stop()

    run.__name__ = f"{name}_agent"
    return run


def _retrieve(future: asyncio.Future) -> None:
    """Mark a future's outcome as seen (at shutdown the stream's generator ends with
    StopAsyncIteration in a task nobody awaits any more; asyncio would log it as an error)."""
    if not future.cancelled():
        future.exception()


async def _overlapped(
    outbox: Outbox,
    name: str,
    handler: Handler,
    stream: faust.Stream,
    max_n: int,
    within: float,
    accepts: Callable[[Any], bool] | None = None,
) -> None:
    """The ``overlap`` loop of :func:`agent`: one batch written, the next ones taken meanwhile."""
    source = batches(stream, max_n, within).__aiter__()
    taking: asyncio.Future | None = None  # the stream's next batch
    pending: asyncio.Future | None = None  # the batch being written
    held: Batch = []  # taken while a batch was being written
    ended = False
    try:
        while True:
            if pending is None and held:
                pending = asyncio.ensure_future(handle(outbox, name, handler, stream, held[:max_n], accepts))
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
                    if outbox.should_stop:
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
