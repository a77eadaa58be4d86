"""A Kafka outage against a running worker writes each repeated warning or error once per
interval, with a count (issue 20: a 66 s outage wrote about 7,100 ERROR lines).

The test kills the session's Kafka (kill -9) for 60 s and starts it again: it
restores the services as it found them.
"""

from __future__ import annotations

import re
import time

from streams.local import cluster
from tests.conftest import indexed_docs, wait_for
from tests.e2e.test_budgets import _article, _send

_NOISY = re.compile(r"\b(?:ERROR|WARNING|CRITICAL)\b")


def _titles(settings) -> set[str]:
    return {h["_source"].get("title") or "" for h in indexed_docs(settings)}


def test_a_kafka_outage_logs_each_repeated_error_once_per_interval(services, pipeline_env):
    _env, settings, start = pipeline_env
    worker = start(NEWSSTREAM_LOG_REPEAT_SECONDS="30")
    _send(settings, [_article("Ferry line 1 opens")])
    wait_for(lambda: _titles(settings) == {"Ferry line 1 opens"}, 180, what=f"the first article; {worker.log_tail()}")

    before = len(worker.log.read_text(errors="replace"))
    cluster.kill_node(services, "kafka", 0)
    try:
        time.sleep(60)
    finally:
        cluster.start_node(services, "kafka", 0, echo=lambda m: None)
    _send(settings, [_article("Ferry line 2 opens")])
    wait_for(
        lambda: _titles(settings) == {"Ferry line 1 opens", "Ferry line 2 opens"},
        300,
        what=f"an article after the outage; log:\n{worker.log_tail()}",
    )
    during = worker.log.read_text(errors="replace")[before:]
    noisy = [line for line in during.splitlines() if _NOISY.search(line)]
    print(f"{len(noisy)} warning and error lines for a 60 s outage and the recovery")
    assert len(noisy) < 150, "\n".join(noisy[-60:])
    assert "more like this in the last" in during  # the repeats were counted, not lost
    assert worker.alive()
