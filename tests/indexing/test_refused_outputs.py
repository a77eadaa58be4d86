"""What Kafka refuses is not lost: a refused dead letter is sent again until Kafka takes it.

faust's ``topic.send`` only queues a message; a broker's refusal shows in the
message's future, not in ``producer.flush()``. These tests make the real
broker refuse by giving a topic a tiny ``max.message.bytes``.
"""

from __future__ import annotations

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic

from streams import kafka
from streams.delivery.deadletters import read_dead_letters
from streams.publish import ensure_topics
from tests.conftest import read_topic, text_article, wait_for

PARAGRAPH = "The harbour authority said on Monday that the ferry timetable would change from next month."


def _set_max_bytes(admin: KafkaAdminClient, topic: str, n: int) -> None:
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": str(n)})])


def test_a_dead_letter_kafka_refuses_is_sent_again_until_it_is_taken(pipeline_env):
    _env, settings, start = pipeline_env
    admin = kafka.admin(settings)
    admin.create_topics([NewTopic(settings.topic_dlq, 1, 1, topic_configs={"max.message.bytes": "200"})])
    ensure_topics(settings)
    producer = kafka.producer(settings)
    for i in range(3):
        producer.send(
            settings.topic_raw,
            key=f"g{i}".encode(),
            value=text_article(f"Ferry news {i}", [f"{PARAGRAPH} Route {i}."] * 3),
        )
    producer.send(settings.topic_raw, key=b"bad", value=b"\x00\x01 binary \x00")
    for i in range(3, 6):
        producer.send(
            settings.topic_raw,
            key=f"g{i}".encode(),
            value=text_article(f"Ferry news {i}", [f"{PARAGRAPH} Route {i}."] * 3),
        )
    producer.flush()
    producer.close()
    worker = start(only=["parse"])
    wait_for(
        lambda: "Kafka refused a dead letter" in worker.log.read_text(errors="replace"),
        120,
        what=f"the refusal logged; worker log:\n{worker.log_tail()}",
    )
    assert read_dead_letters(settings, timeout_s=2) == []
    _set_max_bytes(admin, settings.topic_dlq, 1_000_000)  # the operator fixes the topic
    letters = wait_for(
        lambda: read_dead_letters(settings, timeout_s=2),
        90,
        what=f"the dead letter written after the fix; worker log:\n{worker.log_tail()}",
    )
    admin.close()
    assert [(d.key, d.stage, d.error) for d in letters] == [("bad", "parse", "ParseRejected")]
    # the other six of the batch were parsed once (the batch was not handled again, only the letter resent)
    parsed = read_topic(settings, settings.topic_parsed)
    assert len(parsed) == 6 and len({m.key for m in parsed}) == 6


def test_an_output_kafka_refuses_dead_letters_its_input(pipeline_env):
    _env, settings, start = pipeline_env
    admin = kafka.admin(settings)
    # the parsed topic takes small records only: a long article's parsed record is refused by the broker
    admin.create_topics([NewTopic(settings.topic_parsed, 1, 1, topic_configs={"max.message.bytes": "3000"})])
    admin.close()
    ensure_topics(settings)
    producer = kafka.producer(settings)
    producer.send(settings.topic_raw, key=b"short", value=text_article("Ferry news", [PARAGRAPH]))
    producer.send(
        settings.topic_raw,
        key=b"long",
        value=text_article("Ferry report", [f"{PARAGRAPH} Paragraph {i}." for i in range(60)]),
    )
    producer.flush()
    producer.close()
    worker = start(only=["parse"])
    letters = wait_for(
        lambda: read_dead_letters(settings, timeout_s=2),
        120,
        what=f"the long article dead-lettered; worker log:\n{worker.log_tail()}",
    )
    assert [(d.key, d.stage) for d in letters] == [("long", "parse")]
    assert "output refused by Kafka" in letters[0].reason and "MessageSizeTooLarge" in letters[0].reason
    parsed = read_topic(settings, settings.topic_parsed)
    assert [m.value for m in parsed] and len(parsed) == 1  # the short one went through


def test_a_plugin_agents_dead_letter_kafka_refuses_is_sent_again_until_it_is_taken(pipeline_env):
    """A consumer agent plugin leaves through the same outbox as the built-in agents: its
    refused dead letter is retried (and its batch not acknowledged) until Kafka takes it."""
    _env, settings, start = pipeline_env
    checked = f"{settings.app_id}.checked"  # deleted with the test's topics
    admin = kafka.admin(settings)
    admin.create_topics([NewTopic(settings.topic_dlq, 1, 1, topic_configs={"max.message.bytes": "200"})])
    ensure_topics(settings)
    ensure_topics(settings, [checked])
    producer = kafka.producer(settings)
    articles = [(f"g{i}", text_article(f"Ferry news {i}", [f"{PARAGRAPH} Route {i}."])) for i in range(3)]
    articles.insert(1, ("bad", text_article("Ferry news REFUSE", [PARAGRAPH])))
    for key, value in articles:
        producer.send(settings.topic_raw, key=key.encode(), value=value)
    producer.flush()
    producer.close()
    worker = start(
        only=["ferry-check"],
        NEWSSTREAM_AGENTS='["tests.e2e.plugins_for_tests:ferry_check"]',
        FERRY_CHECK_TOPIC=checked,
    )
    # the plugin handled the articles around the bad one: its dead letter has been sent (and refused)
    wait_for(
        lambda: len(read_topic(settings, checked, timeout_s=1)) == 3,
        120,
        what=f"the three good articles checked; worker log:\n{worker.log_tail()}",
    )
    assert read_dead_letters(settings, timeout_s=2) == []
    _set_max_bytes(admin, settings.topic_dlq, 1_000_000)  # the operator fixes the topic
    letters = wait_for(
        lambda: read_dead_letters(settings, timeout_s=2),
        90,
        what=f"the plugin's dead letter written after the fix (lost?); worker log:\n{worker.log_tail()}",
    )
    admin.close()
    assert [(d.key, d.stage, d.error) for d in letters] == [("bad", "ferry-check", "RuntimeError")]
    assert "ferry-check refuses this article" in letters[0].reason
    assert "Kafka refused a dead letter" in worker.log.read_text(errors="replace")
    # the good articles were checked once: the batch was not handled again, only the letter resent
    assert len(read_topic(settings, checked)) == 3
    assert worker.alive()
