"""Reading and replaying the dead-letter topic (``newsstream dlq``).

Dead letters are read with a group-less kafka-python consumer from the first
offset to the end offsets at the time of the call, so reading never moves
anybody's committed offsets. Replay sends each letter's original bytes back
to the input topic of the stage it failed in (``parse`` -> articles.raw,
``enrich`` -> articles.parsed, ``index`` and plugins -> articles.enriched).
Replaying twice is harmless: documents are written by stable id.
"""

from __future__ import annotations

from streams.records import DeadLetter, RecordError
from streams.settings import Settings


def stage_topic(settings: Settings, stage: str) -> str:
    """Return the input topic of ``stage`` (plugins read the enriched topic)."""
    return {
        "parse": settings.topic_raw,
        "enrich": settings.topic_parsed,
        "index": settings.topic_enriched,
    }.get(stage, settings.topic_enriched)


def read_dead_letters(settings: Settings, timeout_s: float = 10.0) -> list[DeadLetter]:
    """Return every dead letter now on the dead-letter topic, oldest first per partition."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    try:
        parts = consumer.partitions_for_topic(settings.topic_dlq) or set()
        tps = [TopicPartition(settings.topic_dlq, p) for p in sorted(parts)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        letters: list[DeadLetter] = []
        while remaining:
            batch = consumer.poll(timeout_ms=int(timeout_s * 1000))
            if not batch:
                break
            for tp, messages in batch.items():
                for m in messages:
                    try:
                        letters.append(DeadLetter.from_bytes(m.value))
                    except RecordError:
                        pass  # not ours: somebody else's message on the topic
                    if m.offset + 1 >= end[tp]:
                        remaining.discard(tp)
        return letters
    finally:
        consumer.close()


def replay(settings: Settings, stage: str | None = None, timeout_s: float = 10.0) -> int:
    """Send new dead letters (all, or those of ``stage``) back to their stage's input topic.

    Replay reads the dead-letter topic in a consumer group of its own,
    ``<app_id>-dlq-replay-<stage or all>``, and commits after the letters are
    sent, so a second replay sends only letters that arrived since. Returns
    the number replayed.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    from streams.publish import producer

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.app_id}-dlq-replay-{stage or 'all'}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    prod = producer(settings)
    n = 0
    try:
        parts = consumer.partitions_for_topic(settings.topic_dlq) or set()
        tps = [TopicPartition(settings.topic_dlq, p) for p in sorted(parts)]
        if not tps:
            return 0
        consumer.assign(tps)
        end = consumer.end_offsets(tps)
        for tp in tps:
            committed = consumer.committed(tp)
            if committed is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        while any(consumer.position(tp) < end[tp] for tp in tps):
            batch = consumer.poll(timeout_ms=int(timeout_s * 1000))
            if not batch:
                break
            for tp, messages in batch.items():
                for m in messages:
                    if m.offset >= end[tp]:
                        continue
                    try:
                        d = DeadLetter.from_bytes(m.value)
                    except RecordError:
                        continue
                    if stage is None or d.stage == stage:
                        key = d.key.encode() if d.key else None
                        prod.send(stage_topic(settings, d.stage), key=key, value=d.original_bytes())
                        n += 1
        prod.flush()
        consumer.commit({tp: OffsetAndMetadata(consumer.position(tp), "", -1) for tp in tps})
    finally:
        prod.close()
        consumer.close()
    return n
