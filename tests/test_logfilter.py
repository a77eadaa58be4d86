"""Repeated log lines once per interval with a count (issue 20: a 66 s Kafka outage wrote ~7,100 ERROR lines)."""

from __future__ import annotations

import io
import logging

from streams.logfilter import RepeatFilter, install


def _logger(name: str, clock) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RepeatFilter(30.0, clock=clock))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, out


def test_a_repeated_error_is_let_through_once_per_interval_with_the_count():
    now = [0.0]
    log, out = _logger("aiokafka.conn.test", lambda: now[0])
    for second in range(66):  # a 66 s outage, 100 errors a second across the nodes
        now[0] = float(second)
        for node in range(100):
            log.error("Unable connect to node with id %s: %s", node, "Connect call failed")
    lines = out.getvalue().splitlines()
    assert lines == [
        "ERROR aiokafka.conn.test: Unable connect to node with id 0: Connect call failed",
        "ERROR aiokafka.conn.test: Unable connect to node with id 0: Connect call failed"
        " (and 2999 more like this in the last 30 s)",
        "ERROR aiokafka.conn.test: Unable connect to node with id 0: Connect call failed"
        " (and 2999 more like this in the last 30 s)",
    ]


def test_other_messages_levels_and_dead_letters_are_not_held_back():
    now = [0.0]
    log, out = _logger("faust.test", lambda: now[0])
    log.error("Commit failed: %s", "broker away")
    log.warning("Commit failed: %s", "broker away")  # another level: another kind
    log.error("Fetch failed")
    for _ in range(3):
        log.info("Still here")  # below WARNING: never held back
    letters, letters_out = _logger("streams.delivery.deadletters", lambda: now[0])
    for offset in range(3):
        letters.warning("dead letter: offset=%s", offset)
    assert len(out.getvalue().splitlines()) == 6
    assert len(letters_out.getvalue().splitlines()) == 3


def test_one_filter_on_two_handlers_decides_once_per_record():
    now = [0.0]
    logger = logging.getLogger("newsstream.test.two")
    logger.propagate = False
    outs = [io.StringIO(), io.StringIO()]
    logger.handlers[:] = [logging.StreamHandler(o) for o in outs]
    install(30.0, logger)
    repeat = logger.handlers[0].filters[0]
    assert isinstance(repeat, RepeatFilter) and logger.handlers[1].filters == [repeat]
    repeat.clock = lambda: now[0]
    logger.error("away")
    logger.error("away")
    assert [o.getvalue() for o in outs] == ["away\n", "away\n"]


def test_lines_logged_through_a_bare_placeholder_are_kinds_of_their_own():
    # the start-up checks log each mismatch as log.warning("%s", line): four different lines, all shown
    now = [0.0]
    log, out = _logger("newsstream.worker.test", lambda: now[0])
    lines = [f"topic t{i} has replication factor 1, lower than the 3 asked" for i in range(4)]
    for line in lines:
        log.warning("%s", line)
    log.warning("%s", lines[0])  # the same line again within the interval is a repeat
    assert out.getvalue().splitlines() == [f"WARNING newsstream.worker.test: {line}" for line in lines]
