"""What ``newsstream audit`` reports (:class:`AuditReport`), and how ``--since`` is read.

Counts are of raw messages; see :mod:`streams.audit` for how each is classified.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


class AuditError(RuntimeError):
    """The audit cannot run (Kafka or Elasticsearch unreachable, no such topic); the message says why."""


@dataclass
class Missing:
    """A raw message that reached neither the index nor the dead-letter topic."""

    topic: str
    partition: int
    offset: int
    key: str | None
    article_id: str | None
    detail: str = ""


@dataclass
class Duplicate:
    """An article (one raw key) with more than one document: their ids."""

    topic: str
    partition: int
    offset: int
    key: str
    document_ids: list[str]


@dataclass
class AuditReport:
    """What :func:`audit` found. Counts are of raw messages unless named otherwise.

    ``published = indexed + dead_lettered + missing``. ``dead_lettered_by``
    counts by ``"stage: reason"``; ``matched_by_id`` messages were found
    under their article id, not their key (parsed to learn it);
    ``missing_listed``/``duplicates_listed`` hold at most ``limit`` entries
    each. ``lag`` is the pipeline's consumer group's lag per topic when the
    audit started (messages not yet handled; missing ones may still be on
    their way when it is not 0), None when the group has committed nothing.
    ``seconds`` is wall time; ``rate`` raw messages per second.
    """

    topic: str
    index: str
    since: str | None
    offsets: dict[int, tuple[int, int]] = field(default_factory=dict)
    published: int = 0
    indexed: int = 0
    dead_lettered: int = 0
    dead_lettered_by: dict[str, int] = field(default_factory=dict)
    missing: int = 0
    duplicates: int = 0
    matched_by_id: int = 0
    without_key: int = 0
    documents: int = 0
    dead_letters: int = 0
    lag: dict[str, int] | None = None
    missing_listed: list[Missing] = field(default_factory=list)
    duplicates_listed: list[Duplicate] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """True when nothing is missing and no article has two documents."""
        return self.missing == 0 and self.duplicates == 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["offsets"] = {str(p): {"start": s, "end": e} for p, (s, e) in self.offsets.items()}
        out["rate"] = round(self.rate, 1)
        out["seconds"] = round(self.seconds, 3)
        out["ok"] = self.ok
        return out


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """Return the moment ``text`` names: an ISO 8601 date or time (UTC unless it says
    otherwise), or a duration back from now (``90s``, ``30m``, ``2h``, ``7d``, ``1w``).

    Raises:
        ValueError: neither, in one line naming the text.
    """
    now = now or datetime.now(UTC)
    m = _DURATION.match(text)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--since {text!r} is neither an ISO 8601 date or time nor a duration such as 30m, 2h or 7d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
