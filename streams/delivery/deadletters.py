"""Dead letters: wrapping a message a stage could not handle, reading, replaying and discarding them.

bytewax and Redpanda Connect treat bad messages as data; so do we. Every
stage returns the record or a rejection, and a rejection becomes a
:class:`streams.records.DeadLetter` on the dead-letter topic carrying the
stage, reason, error class, topic, partition, offset, the original bytes and
headers, and the article's URL and source where the message names them
(:func:`from_event`).

**Ids and chains.** A letter's id is its place on the dead-letter topic,
``PARTITION@OFFSET`` (``0@17``). A replayed message carries headers naming
the first letter of its story (:data:`REPLAY_OF`), the attempt, and the
stage it is for (:data:`REPLAY_TO`); if it fails again, the new letter says
``replay_of`` that first letter, so the letters of one message form a
*chain* and ``dlq show`` counts the message once, with its attempts, instead
of once per failure.

**What an operator did** is recorded on ``<dead-letter topic>.replays``
(:func:`streams.topics.replay_log`): one JSON record per letter replayed or
discarded, with the time and the request it belonged to. A chain is
``open`` until its latest letter is replayed or discarded; ``replay`` takes
open chains only (unless named with an id), one message per chain and
request, so running it twice does not send a message twice, and a replay
that fails again adds one attempt to its chain rather than a new letter to
the count.

**Routing.** A letter is replayed to the topic its message was read from,
with :data:`REPLAY_TO` naming the stage that failed it: the built-in agents
and the plugin consumer agents reading that topic leave a replayed message
for another stage alone (:func:`accepts`), so a plugin's letter goes back to
that plugin only, and an enricher's to the enrich stage that runs it.

Reading never moves anybody's committed offsets: letters and records are read
by a group-less consumer from the first offset to the end offsets at the
time of the call (:func:`read_topic`).
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from kafka import TopicPartition

from streams import kafka
from streams.publish import ensure_topics
from streams.records import DeadLetter, RecordError, now_iso
from streams.settings import Settings
from streams.topics import replay_log

log = logging.getLogger(__name__)

#: Header of a replayed message: the id of the first letter of its chain.
REPLAY_OF = "newsstream-replay-of"
#: Header of a replayed message: which attempt this is (2 for the first replay).
REPLAY_ATTEMPT = "newsstream-replay-attempt"
#: Header of a replayed message: the stage (or plugin) it is for; the others reading the topic skip it.
REPLAY_TO = "newsstream-replay-to"

#: Reasons decided by the message's bytes alone: the same bytes fail the same way, whatever is fixed.
#: ``replay`` leaves letters with these reasons alone unless they are named (``--id`` or ``--reason``).
PERMANENT_REASONS = frozenset(
    {
        "empty message",
        "empty input",
        "binary input",
        "undecodable input",
        "invalid JSON",
        "not a JSON object",
        "not an article envelope",
        "envelope without content",
        "unknown content_type",
    }
)


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


@dataclass
class Action:
    """What an operator did with a letter: ``replayed`` (to ``topic``) or ``discarded``, when, in which request."""

    letter: str
    chain: str
    action: str
    at: str
    request: str
    stage: str = ""
    topic: str = ""

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.__dict__)


def read_actions(settings: Settings, timeout_s: float = 10.0) -> list[Action]:
    """Return the replay log (:func:`streams.topics.replay_log`), oldest first."""
    actions = []
    for m in read_topic(settings, replay_log(settings), timeout_s):
        try:
            obj = orjson.loads(m.value)
            actions.append(Action(**{k: obj[k] for k in Action.__dataclass_fields__ if k in obj}))
        except (orjson.JSONDecodeError, TypeError, KeyError):
            continue
    return actions


# ---------------------------------------------------------------- chains


@dataclass
class Chain:
    """The dead letters of one message: the first letter's id, every letter (oldest first), what was done.

    ``latest`` is the letter that counts (its stage, reason, time); ``status``
    is ``open``, ``replayed`` (the latest letter was replayed and nothing came
    back yet) or ``discarded``.
    """

    id: str
    letters: list[StoredLetter] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)

    @property
    def latest(self) -> StoredLetter:
        return max(self.letters, key=lambda s: (s.letter.attempt, s.letter.failed_at, s.timestamp_ms))

    @property
    def attempts(self) -> int:
        return max(s.letter.attempt for s in self.letters)

    @property
    def status(self) -> str:
        latest = self.latest.id
        done = [a for a in self.actions if a.letter == latest]
        return done[-1].action if done else "open"

    def failed_at(self) -> datetime:
        return parse_time(self.latest.letter.failed_at)

    def to_json(self) -> dict[str, Any]:
        """One ``dlq show --json`` object: the latest letter's fields plus id, attempts, status and actions."""
        latest = self.latest
        d = latest.letter
        return {
            "id": self.id,
            "latest": latest.id,
            "status": self.status,
            "attempts": self.attempts,
            "stage": d.stage,
            "reason": d.reason,
            "error": d.error,
            "failed_at": d.failed_at,
            "url": d.url,
            "source": d.source,
            "key": d.key,
            "topic": d.topic,
            "partition": d.partition,
            "offset": d.offset,
            "detail": d.detail,
            "original_size": d.original_size,
            "original_truncated": d.original_truncated,
            "letters": [s.id for s in self.letters],
            "actions": [a.__dict__ for a in self.actions],
        }


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time (a date alone is midnight UTC); naive times are UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def chains(letters: list[StoredLetter], actions: list[Action]) -> list[Chain]:
    """Group letters into chains (a message and its replays) and attach the actions; newest failure first."""
    by_id: dict[str, Chain] = {}
    for stored in letters:
        by_id.setdefault(stored.chain, Chain(stored.chain)).letters.append(stored)
    for action in actions:
        if action.chain in by_id:
            by_id[action.chain].actions.append(action)
    return sorted(by_id.values(), key=lambda c: (c.failed_at(), c.latest.timestamp_ms), reverse=True)


def reason_class(reason: str) -> str:
    """The reason without its details: ``mapper_parsing_exception: failed to parse ...`` -> ``mapper_parsing_exception``."""
    return reason.split(": ", 1)[0].strip()[:80] or "(no reason)"


def counts_by_reason(selected: list[Chain]) -> list[tuple[str, int]]:
    """``[(reason, chains)]``, most frequent first."""
    return Counter(reason_class(c.latest.letter.reason) for c in selected).most_common()


@dataclass
class Selection:
    """Which chains to show, replay or discard (every given criterion must hold)."""

    stage: str | None = None
    reason: str | None = None  # a case-insensitive part of the reason
    since: datetime | None = None  # failed at or after
    ids: list[str] = field(default_factory=list)  # chain ids or letter ids
    statuses: tuple[str, ...] = ("open",)

    def matches(self, chain: Chain) -> bool:
        d = chain.latest.letter
        if self.ids and not ({chain.id, *(s.id for s in chain.letters)} & set(self.ids)):
            return False
        if not self.ids and chain.status not in self.statuses:
            return False
        if self.stage and d.stage != self.stage:
            return False
        if self.reason and self.reason.lower() not in d.reason.lower():
            return False
        return not (self.since and chain.failed_at() < self.since)


def select(settings: Settings, selection: Selection, timeout_s: float = 10.0) -> tuple[list[Chain], list[Chain]]:
    """Return ``(matching chains, all chains)``, newest first."""
    everything = chains(read_letters(settings, timeout_s), read_actions(settings, timeout_s))
    return [c for c in everything if selection.matches(c)], everything


# ---------------------------------------------------------------- replaying and discarding


@dataclass
class Plan:
    """What a replay would do: the chains to send, and those left alone with the reason why."""

    send: list[Chain] = field(default_factory=list)
    skipped: list[tuple[Chain, str]] = field(default_factory=list)


def plan_replay(selected: list[Chain], selection: Selection, agents: set[str]) -> Plan:
    """Decide which selected chains a replay sends.

    Left alone: a letter whose original bytes were cut (it cannot be replayed
    as it was), one whose stage no agent answers to (``agents``: the built-in
    stages and the plugins loaded now), and one whose reason is decided by the
    bytes alone (:data:`PERMANENT_REASONS`) unless the operator named it with
    an id or by its reason.
    """
    plan = Plan()
    for chain in selected:
        d = chain.latest.letter
        if d.original_truncated:
            plan.skipped.append((chain, f"its original was cut to {d.original_size} bytes"))
        elif d.stage not in agents:
            plan.skipped.append((chain, f"no agent or enricher named {d.stage!r} is loaded"))
        elif d.reason in PERMANENT_REASONS and not selection.ids and not selection.reason:
            plan.skipped.append((chain, f"{d.reason}: the same bytes would fail the same way"))
        else:
            plan.send.append(chain)
    return plan


def replay(settings: Settings, plan: Plan) -> list[Action]:
    """Send each planned chain's latest letter back to the topic its message was read from.

    The message goes with its original key, value and headers, plus
    :data:`REPLAY_OF` (the chain), :data:`REPLAY_ATTEMPT` and
    :data:`REPLAY_TO` (the stage that failed it). Once Kafka has taken them
    all, one ``replayed`` record per letter goes to the replay log. Returns
    those records. A crash between the two sends the messages again on the
    next replay: at least once, and harmless (documents are merged by id).
    """
    if not plan.send:
        return []
    request = uuid.uuid4().hex[:12]
    prod = kafka.producer(settings)
    actions: list[Action] = []
    try:
        futures = []
        for chain in plan.send:
            latest = chain.latest
            d = latest.letter
            headers = [(k, base64.b64decode(v)) for k, v in (d.headers or {}).items()]
            headers += [
                (REPLAY_OF, chain.id.encode()),
                (REPLAY_ATTEMPT, str(chain.attempts + 1).encode()),
                (REPLAY_TO, d.stage.encode()),
            ]
            key = d.key.encode() if d.key else None
            futures.append(prod.send(d.topic, key=key, value=d.original_bytes(), headers=headers))
            actions.append(Action(latest.id, chain.id, "replayed", now_iso(), request, d.stage, d.topic))
        prod.flush()
        for fut in futures:
            fut.get(timeout=30)  # raises if Kafka refused one: nothing is recorded then
    finally:
        prod.close()
    record(settings, actions)
    return actions


def discard(settings: Settings, selected: list[Chain]) -> list[Action]:
    """Mark the selected chains handled without replaying them; return the records written."""
    request = uuid.uuid4().hex[:12]
    actions = [Action(c.latest.id, c.id, "discarded", now_iso(), request, c.latest.letter.stage, "") for c in selected]
    record(settings, actions)
    return actions


def record(settings: Settings, actions: list[Action]) -> None:
    """Append ``actions`` to the replay log (created with one partition if missing), and wait for Kafka."""
    if not actions:
        return
    name = replay_log(settings)
    ensure_topics(settings, [name], partitions=1)
    prod = kafka.producer(settings)
    try:
        futures = [prod.send(name, key=a.chain.encode(), value=a.to_bytes()) for a in actions]
        prod.flush()
        for fut in futures:
            fut.get(timeout=30)
    finally:
        prod.close()
