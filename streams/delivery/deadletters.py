"""Dead letters: wrapping a message a stage could not handle, and reading them back.

bytewax and Redpanda Connect treat bad messages as data; so do we. Every
stage returns the record or a rejection, and a rejection becomes a
:class:`streams.records.DeadLetter` on the dead-letter topic carrying the
stage, reason, error class, topic, partition, offset, the original bytes and
headers, and the article's URL and source where the message names them
(:func:`from_event`).

A letter's id is its place on the dead-letter topic, ``PARTITION@OFFSET``
(``0@17``). A replayed message carries headers naming the first letter of
its story (:data:`REPLAY_OF`), the attempt, and the stage it is for
(:data:`REPLAY_TO`): the built-in agents and the plugin consumer agents
reading a topic leave a replayed message for another stage alone
(:func:`accepts`); a letter of a replayed message says ``replay_of`` that
first letter. Showing, replaying and discarding letters, and the chains they
form, are :mod:`streams.delivery.replay`'s.

Reading never moves anybody's committed offsets: letters and records are read
by a group-less consumer from the first offset to the end offsets at the
time of the call (:func:`read_topic`).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from kafka import TopicPartition

from streams import kafka
from streams.records import DeadLetter, RecordError
from streams.settings import Settings

log = logging.getLogger(__name__)

#: Header of a replayed message: the id of the first letter of its chain.
REPLAY_OF = "newsstream-replay-of"
#: Header of a replayed message: which attempt this is (2 for the first replay).
REPLAY_ATTEMPT = "newsstream-replay-attempt"
#: Header of a replayed message: the stage (or plugin) it is for; the others reading the topic skip it.
REPLAY_TO = "newsstream-replay-to"

# ---------------------------------------------------------------- writing


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


def message_headers(message: Any) -> dict[str, bytes]:
    """Return a Kafka message's headers as ``{name: bytes}`` (faust gives a list of pairs or a dict)."""
    headers = getattr(message, "headers", None) or {}
    pairs = headers.items() if isinstance(headers, dict) else headers
    return {str(k): bytes(v) for k, v in pairs if isinstance(v, (bytes, bytearray))}


def lineage(headers: dict[str, bytes]) -> tuple[str | None, int]:
    """Return ``(first letter's id, attempt)`` of a message from its headers (``(None, 1)`` if it is no replay)."""
    first = headers.get(REPLAY_OF)
    try:
        attempt = int(headers.get(REPLAY_ATTEMPT, b"1"))
    except ValueError:
        attempt = 1
    return (first.decode("utf-8", "replace") if first else None), max(1, attempt)


def lineage_headers(event: Any) -> list[tuple[str, bytes]] | None:
    """The headers an output record takes from its input so that a replayed message's story goes on
    (a replayed article that passes parse and fails in enrich is the same chain), or None."""
    if event is None:
        return None
    headers = message_headers(event.message)
    kept = [(name, headers[name]) for name in (REPLAY_OF, REPLAY_ATTEMPT) if name in headers]
    return kept or None


def accepts(names: Iterable[str]) -> Callable[[Any], bool]:
    """Return a test of a faust event: is the message for an agent answering to ``names``?

    A message that is no replay is for everyone; a replayed one only for the stage named in its
    :data:`REPLAY_TO` header.
    """
    wanted = {n.encode() for n in names}

    def check(event: Any) -> bool:
        target = message_headers(event.message).get(REPLAY_TO)
        return target is None or target in wanted

    return check


def _origin(value: bytes, headers: dict[str, bytes]) -> tuple[str | None, str | None]:
    """The article's URL and source, from the headers of a bare page or the fields of a JSON message."""
    url = headers.get("url")
    source = headers.get("source")
    found_url = url.decode("utf-8", "replace") if url else None
    found_source = source.decode("utf-8", "replace") if source else None
    if (found_url is None or found_source is None) and value[:1] == b"{":
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            if found_url is None and isinstance(obj.get("url"), str):
                found_url = obj["url"]
            if found_source is None and isinstance(obj.get("source"), str):
                found_source = obj["source"]
    return (found_url[:2048] if found_url else None), (found_source[:256] if found_source else None)


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
    """Wrap the faust ``event`` (its message's topic, partition, offset, key, value and headers).

    Either ``exc`` (reason and error class taken from it) or ``reason`` and
    ``error`` are given. The letter keeps the article's URL and source when
    the message names them, and, for a replayed message, its chain
    (``replay_of``, ``attempt``).
    """
    msg = event.message
    if exc is not None:
        reason = reason or reason_of(exc)
        error = error or exc.__class__.__name__
        detail = detail or str(exc)
    value = bytes(msg.value) if isinstance(msg.value, (bytes, bytearray)) else None
    headers = message_headers(msg)
    letter = DeadLetter.wrap(
        stage=stage,
        reason=reason,
        error=error,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        value=value,
        key=msg.key,
        detail=detail,
        max_original_bytes=max_original_bytes,
    )
    letter.url, letter.source = _origin(value or b"", headers)
    letter.replay_of, letter.attempt = lineage(headers)
    # the message's own headers (a bare page's content_type, url, source), for a faithful replay;
    # the replay headers are set afresh by each replay
    letter.headers = {
        k: base64.b64encode(v).decode("ascii")
        for k, v in headers.items()
        if k not in (REPLAY_OF, REPLAY_ATTEMPT, REPLAY_TO) and len(v) <= 4096
    }
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


# ---------------------------------------------------------------- reading


def read_topic(settings: Settings, topic: str, timeout_s: float = 10.0) -> list[Any]:
    """Return every message now on ``topic`` (kafka-python records), oldest first per partition.

    A group-less consumer reads from the first offset to the end offsets at
    the time of the call: nothing is committed, nobody's offsets move. A
    topic that does not exist has no messages.
    """
    consumer = kafka.consumer(settings, None, consumer_timeout_ms=int(timeout_s * 1000))
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        messages: list[Any] = []
        while remaining:
            batch = consumer.poll(timeout_ms=int(timeout_s * 1000))
            if not batch:
                break
            for tp, records in batch.items():
                for m in records:
                    if m.offset < end[tp]:
                        messages.append(m)
                    if m.offset + 1 >= end[tp]:
                        remaining.discard(tp)
        return messages
    finally:
        consumer.close()


def read_dead_letters(settings: Settings, timeout_s: float = 10.0) -> list[DeadLetter]:
    """Return every dead letter now on the dead-letter topic, oldest first per partition."""
    return [stored.letter for stored in read_letters(settings, timeout_s)]


@dataclass
class StoredLetter:
    """A dead letter as stored: its id (``PARTITION@OFFSET``), the letter, and Kafka's timestamp (ms)."""

    id: str
    letter: DeadLetter
    timestamp_ms: int = 0

    @property
    def chain(self) -> str:
        """The id of the first letter of this message's story (its own id unless it is a replay's)."""
        return self.letter.replay_of or self.id


def read_letters(settings: Settings, timeout_s: float = 10.0) -> list[StoredLetter]:
    """Return every dead letter on the dead-letter topic with its id, oldest first per partition.

    Messages on the topic that are not letters (somebody else's) are skipped.
    """
    out = []
    for m in read_topic(settings, settings.topic_dlq, timeout_s):
        try:
            letter = DeadLetter.from_bytes(m.value)
        except RecordError:
            continue  # not ours: somebody else's message on the topic
        if not letter.url and not letter.source:  # a letter written before letters named them
            letter.url, letter.source = _origin(letter.original_bytes(), {})
        out.append(StoredLetter(f"{m.partition}@{m.offset}", letter, m.timestamp or 0))
    return out
