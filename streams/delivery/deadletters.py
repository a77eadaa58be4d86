"""Dead letters: wrapping a message a stage could not handle, reading and replaying them.

bytewax and Redpanda Connect treat bad messages as data; so do we. Every
stage returns the record or a rejection, and a rejection becomes a
:class:`streams.records.DeadLetter` on the dead-letter topic carrying the
stage, reason, error class, topic, partition, offset and the original bytes
(:func:`from_event`).

``newsstream dlq show`` reads them with a group-less kafka-python consumer
from the first offset to the end offsets at the time of the call, so reading
never moves anybody's committed offsets (:func:`read_dead_letters`).
``newsstream dlq replay`` sends each letter's original bytes back to the input
topic of the stage it failed in (``parse`` -> raw, ``enrich`` -> parsed,
``index`` and plugins -> enriched; :func:`replay`). Replaying twice is
harmless: documents are written by stable id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from streams import kafka
from streams.records import DeadLetter, RecordError
from streams.settings import Settings
from streams.topics import STAGE_INPUT, input_topic

log = logging.getLogger(__name__)


def original_budget(settings: Settings) -> int:
    """Return how many bytes of a failed message a dead letter can carry.

    The letter stores them base64-encoded (4/3 of their size) beside about
    8 KiB of reason and metadata, and must stay under
    ``settings.max_message_bytes``.
    """
    return max(0, (settings.max_message_bytes - 8192) * 3 // 4)


def reason_of(exc: BaseException) -> str:
    """Return the short reason of a rejection (``exc.reason``) or the exception's message."""
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason)
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else exc.__class__.__name__


def from_event(
    stage: str,
    event: Any,
    exc: BaseException | None = None,
    *,
    reason: str = "",
    error: str = "",
    detail: str = "",
    max_original_bytes: int = 4 * 1024 * 1024,
) -> DeadLetter:
    """Wrap the faust ``event`` (its message's topic, partition, offset, key, value).

    Either ``exc`` (reason and error class taken from it) or ``reason`` and
    ``error`` are given.
    """
    msg = event.message
    if exc is not None:
        reason = reason or reason_of(exc)
        error = error or exc.__class__.__name__
        detail = detail or str(exc)
    letter = DeadLetter.wrap(
        stage=stage,
        reason=reason,
        error=error,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        value=bytes(msg.value) if isinstance(msg.value, (bytes, bytearray)) else None,
        key=msg.key,
        detail=detail,
        max_original_bytes=max_original_bytes,
    )
    log.warning(
        "dead letter: stage=%s topic=%s partition=%s offset=%s reason=%s error=%s",
        stage,
        msg.topic,
        msg.partition,
        msg.offset,
        reason,
        error,
        extra={
            "stage": stage,
            "topic": msg.topic,
            "partition": msg.partition,
            "offset": msg.offset,
            "article_id": msg.key.decode("utf-8", "replace") if isinstance(msg.key, bytes) else msg.key,
        },
    )
    return letter


def replay_topic(settings: Settings, stage: str) -> str:
    """Return the topic a letter of ``stage`` is replayed to: its stage's input
    topic; plugins (any other stage) read the enriched topic."""
    return input_topic(settings, stage if stage in STAGE_INPUT else "index")


def read_dead_letters(settings: Settings, timeout_s: float = 10.0) -> list[DeadLetter]:
    """Return every dead letter now on the dead-letter topic, oldest first per partition."""
    consumer = kafka.consumer(settings, None, consumer_timeout_ms=int(timeout_s * 1000))
    try:
        parts = consumer.partitions_for_topic(settings.topic_dlq) or set()
        tps = [TopicPartition(settings.topic_dlq, p) for p in sorted(parts)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        letters: list[DeadLetter] = []
        while remaining:
            batch = consumer.poll(timeout_ms=int(timeout_s * 1000))
            if not batch:
                break
            for tp, messages in batch.items():
                for m in messages:
                    try:
                        letters.append(DeadLetter.from_bytes(m.value))
                    except RecordError:
                        pass  # not ours: somebody else's message on the topic
                    if m.offset + 1 >= end[tp]:
                        remaining.discard(tp)
        return letters
    finally:
        consumer.close()


def replay(
    settings: Settings,
    stage: str | None = None,
    timeout_s: float = 10.0,
    progress: Callable[[int, int, int], None] | None = None,
) -> int:
    """Send new dead letters (all, or those of ``stage``) back to their stage's input topic.

    Replay reads the dead-letter topic in a consumer group of its own,
    ``<app_id>-dlq-replay-<stage or all>``, and commits after the letters are
    sent, so a second replay sends only letters that arrived since. Returns
    the number replayed. ``progress(read, to_read, replayed)`` is called
    after each batch of letters read (``newsstream dlq replay``'s bar).
    """
    consumer = kafka.consumer(settings, f"{settings.app_id}-dlq-replay-{stage or 'all'}", auto_offset_reset="earliest")
    prod = kafka.producer(settings)
    n = 0
    try:
        parts = consumer.partitions_for_topic(settings.topic_dlq) or set()
        tps = [TopicPartition(settings.topic_dlq, p) for p in sorted(parts)]
        if not tps:
            return 0
        consumer.assign(tps)
        end = consumer.end_offsets(tps)
        for tp in tps:
            committed = consumer.committed(tp)
            if committed is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        to_read = sum(max(0, end[tp] - consumer.position(tp)) for tp in tps)
        read = 0
        while any(consumer.position(tp) < end[tp] for tp in tps):
            batch = consumer.poll(timeout_ms=int(timeout_s * 1000))
            if not batch:
                break
            for tp, messages in batch.items():
                for m in messages:
                    if m.offset >= end[tp]:
                        continue
                    try:
                        d = DeadLetter.from_bytes(m.value)
                    except RecordError:
                        continue
                    if stage is None or d.stage == stage:
                        key = d.key.encode() if d.key else None
                        prod.send(replay_topic(settings, d.stage), key=key, value=d.original_bytes())
                        n += 1
                read += len(messages)
            if progress is not None:
                progress(min(read, to_read), to_read, n)
        prod.flush()
        consumer.commit({tp: OffsetAndMetadata(consumer.position(tp), "", -1) for tp in tps})
    finally:
        prod.close()
        consumer.close()
    return n
