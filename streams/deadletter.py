"""Dead letters: wrap a message a stage could not handle, with the reason.

bytewax and Redpanda Connect treat bad messages as data; so do we. Every
stage returns the record or a rejection, and a rejection becomes a
:class:`streams.records.DeadLetter` on ``articles.dlq`` carrying the stage,
reason, error class, topic, partition, offset and the original bytes, so
``newsstream dlq replay`` can send it back once the cause is fixed.
"""

from __future__ import annotations

import logging

from streams.records import DeadLetter

log = logging.getLogger(__name__)


def original_budget(settings) -> int:
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
    event,
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
        value=msg.value if isinstance(msg.value, (bytes, bytearray)) else None,
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
    )
    return letter
