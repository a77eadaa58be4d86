"""Dead letters an operator works through: ``dlq show``, ``dlq replay`` and ``dlq discard``.

**Chains.** The letters of one message (its first failure and the failures
of its replays, linked by ``replay_of``) form a *chain*: ``dlq show``
counts the message once, with its attempts, instead of once per failure.

**What an operator did** is recorded on ``<dead-letter topic>.replays``
(:func:`streams.topics.replay_log`): one JSON record per letter replayed or
discarded, with the time and the request it belonged to. A chain is
``open`` until its latest letter is replayed or discarded; ``replay`` takes
open chains only (unless named with an id), one message per chain and
request, so running it twice does not send a message twice, and a replay
that fails again adds one attempt to its chain rather than a new letter to
the count.

**Routing.** A letter is replayed to the topic its message was read from,
with :data:`~streams.delivery.deadletters.REPLAY_TO` naming the stage that
failed it: the built-in agents and the plugin consumer agents reading that
topic leave a replayed message for another stage alone
(:func:`streams.delivery.deadletters.accepts`), so a plugin's letter goes
back to that plugin only, and an enricher's to the enrich stage that runs it
(the parsed topic: it is enriched again, never indexed raw).
"""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from streams import kafka
from streams.delivery.deadletters import REPLAY_ATTEMPT, REPLAY_OF, REPLAY_TO, StoredLetter, read_letters, read_topic
from streams.publish import ensure_topics
from streams.records import now_iso
from streams.settings import Settings
from streams.topics import replay_log

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


def replay(settings: Settings, plan: Plan, progress: Callable[[int], None] | None = None) -> list[Action]:
    """Send each planned chain's latest letter back to the topic its message was read from.

    ``progress(sent)`` is called as Kafka takes them (``newsstream dlq replay``'s bar).

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
        for sent, fut in enumerate(futures, 1):
            fut.get(timeout=30)  # raises if Kafka refused one: nothing is recorded then
            if progress is not None:
                progress(sent)
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
