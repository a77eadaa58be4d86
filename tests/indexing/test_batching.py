"""How the agents cut the stream into batches (streams.delivery.batching.batches), on the real Kafka."""

from __future__ import annotations

import re

from streams import kafka
from streams.publish import ensure_topics
from tests.conftest import read_topic, text_article, wait_for

PARAGRAPH = "The harbour authority said on Monday that the ferry timetable would change from next month."


def _parse_batches(log_text: str) -> list[int]:
    return [int(n) for n in re.findall(r"parse: (\d+) messages in", log_text)]


def test_batches_are_capped_and_a_lone_message_is_not_held(pipeline_env):
    _env, settings, start = pipeline_env
    ensure_topics(settings)
    producer = kafka.producer(settings, linger_ms=50)
    for i in range(250):
        producer.send(
            settings.topic_raw, key=f"k{i}".encode(), value=text_article(f"Ferry timetable {i}", [PARAGRAPH] * 3)
        )
    producer.flush()
    # the backlog is there before the worker starts: the parse agent's batches fill to the cap
    worker = start(only=["parse"], loglevel="debug")
    sizes = wait_for(
        lambda: (s := _parse_batches(worker.log.read_text(errors="replace"))) and sum(s) == 250 and s,
        120,
        what=f"250 messages parsed; worker log:\n{worker.log_tail()}",
    )
    assert max(sizes) == 100  # the parse agent's cap, reached on a backlog
    assert all(n <= 100 for n in sizes)

    # an idle stream, then one message: handed over alone, not held for more
    producer.send(settings.topic_raw, key=b"late", value=text_article("Late ferry", [PARAGRAPH] * 3))
    producer.flush()
    producer.close()
    sizes = wait_for(
        lambda: (s := _parse_batches(worker.log.read_text(errors="replace"))) and sum(s) == 251 and s,
        60,
        what=f"the late message parsed; worker log:\n{worker.log_tail()}",
    )
    assert sizes[-1] == 1
    parsed = read_topic(settings, settings.topic_parsed)
    assert len(parsed) == 251
