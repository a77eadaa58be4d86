"""Repeated log lines once per interval, with a count.

While Kafka or Elasticsearch is away, the clients under the agents (aiokafka,
faust's consumer and fetcher, elastic-transport) log the same warning or
error for every node, partition and retry: a 66 s Kafka outage wrote about
7,100 ERROR lines to a worker's log (issue 20), which hides what matters and
fills disks. :class:`RepeatFilter`, on the worker's log handlers, lets the
first record of a kind through, drops the records of the same kind that
follow within ``interval`` seconds, and adds to the next one let through
how many were dropped: ``... (and 812 more like this in the last 30 s)``.

A record's kind is its logger, level and message template (``record.msg``
before its arguments are filled in): "Unable connect to node %r" is one kind
whatever the node. A template that is nothing but placeholders (``"%s"``)
names no kind: then the filled-in message is the kind, so distinct lines
logged that way (the start-up checks' mismatches) all pass. Records below
WARNING pass untouched, and so do the dead
letters' own warnings (``streams.delivery.deadletters``): each names a message.
"""

from __future__ import annotations

import logging
import re
import time

#: Seconds between two records of one kind let through (the default).
DEFAULT_INTERVAL = 30.0
#: Loggers whose records always pass (each names one message).
EXEMPT = ("streams.delivery.deadletters",)
_MAX_KINDS = 10_000  # kinds remembered; the oldest half is forgotten beyond that
_PLACEHOLDER = re.compile(r"%(\([^)]*\))?[-#0 +]*[\d.*]*[a-zA-Z%]")


def _kind_text(record: logging.LogRecord) -> str:
    template = str(record.msg)
    if record.args and not any(c.isalpha() for c in _PLACEHOLDER.sub("", template)):
        return record.getMessage()
    return template


class RepeatFilter(logging.Filter):
    """Let a kind of WARNING-or-worse record through once per ``interval`` seconds, with a count."""

    def __init__(self, interval: float = DEFAULT_INTERVAL, clock=time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._kinds: dict[tuple[str, int, str], tuple[float, int]] = {}  # kind -> (last let through, dropped since)

    def filter(self, record: logging.LogRecord) -> bool:
        decided = getattr(record, "_newsstream_repeat", None)
        if decided is not None:  # the same filter on another handler: the same answer
            return bool(decided)
        passes = self._decide(record)
        record._newsstream_repeat = passes
        return passes

    def _decide(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or record.name.startswith(EXEMPT):
            return True
        kind = (record.name, record.levelno, _kind_text(record))
        now = self.clock()
        seen = self._kinds.get(kind)
        if seen is not None and now - seen[0] < self.interval:
            self._kinds[kind] = (seen[0], seen[1] + 1)
            return False
        if seen is not None and seen[1]:
            # once per kind: the record keeps its own text, and a note is added after it
            record.msg = f"{record.msg} (and {seen[1]} more like this in the last {now - seen[0]:.0f} s)"
        if len(self._kinds) >= _MAX_KINDS:
            for old in sorted(self._kinds, key=lambda k: self._kinds[k][0])[: _MAX_KINDS // 2]:
                del self._kinds[old]
        self._kinds[kind] = (now, 0)
        return True


def install(interval: float = DEFAULT_INTERVAL, logger: logging.Logger | None = None) -> RepeatFilter:
    """Put one :class:`RepeatFilter` on every handler of ``logger`` (default: the root
    logger) that has none yet; return it. Call it again after a library replaces
    the handlers (faust's worker does when it starts)."""
    logger = logger or logging.getLogger()
    found = next(
        (f for h in logger.handlers for f in h.filters if isinstance(f, RepeatFilter)),
        None,
    )
    repeat = found or RepeatFilter(interval)
    for handler in logger.handlers:
        if not any(isinstance(f, RepeatFilter) for f in handler.filters):
            handler.addFilter(repeat)
    return repeat
