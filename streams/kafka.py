"""The one place Kafka clients are built from settings: kafka-python's and the faust app's.

Every producer, admin client and consumer newsstream opens with kafka-python
(publishing, topic creation, reading and replaying dead letters, the local
health check, the benchmarks and the tests) comes from :func:`producer`,
:func:`admin` or :func:`consumer`, and the faust app takes its broker options
from :func:`faust_broker_options`. How to reach the brokers (bootstrap
servers today; TLS and SASL tomorrow) is decided in :func:`connection_options`
and :func:`faust_broker_options`, here and only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from streams.settings import Settings

#: Bytes a produced message may carry beyond ``settings.max_message_bytes``
#: (record headers and framing); topics and clients are sized with it.
MESSAGE_OVERHEAD = 64 * 1024


def over_limit(settings: Settings, size: int) -> str | None:
    """Return why a message of ``size`` bytes cannot be produced (over
    ``settings.max_message_bytes``), or None when it can. The one size check
    of everything newsstream produces: the CLI's publish and every agent's outbox.
    """
    limit = settings.max_message_bytes
    if size > limit:
        return f"{size} bytes, the limit is {limit} (NEWSSTREAM_MAX_MESSAGE_BYTES)"
    return None


def bootstrap_servers(settings: Settings) -> list[str]:
    """Return ``settings.kafka_bootstrap`` as a list of ``host:port``."""
    return [hp.strip() for hp in settings.kafka_bootstrap.split(",") if hp.strip()]


def connection_options(settings: Settings) -> dict[str, Any]:
    """Return the kafka-python keyword arguments that say where the brokers are and how to log in.

    Shape: ``{"bootstrap_servers": [...]}``; ``security_protocol``,
    ``ssl_*`` and ``sasl_*`` options belong here.
    """
    return {"bootstrap_servers": bootstrap_servers(settings)}


def faust_broker_options(settings: Settings) -> dict[str, Any]:
    """Return the faust ``App`` options that say where the brokers are and how to log in.

    Shape: ``{"broker": ["kafka://host:port", ...]}``; faust's
    ``broker_credentials`` (an SSL context or SASL credentials) belongs here.
    """
    return {"broker": [f"kafka://{hp}" for hp in bootstrap_servers(settings)]}


def producer(settings: Settings, **options: Any) -> KafkaProducer:
    """Return a kafka-python producer that waits for all in-sync replicas (``acks="all"``), idempotent.

    Idempotence (``enable_idempotence=True``: the broker drops a batch the
    producer sends again after a lost acknowledgement, and keeps each
    partition's batches in order) makes the retries safe: a send is retried
    (from 100 ms to 1 s apart) until ``delivery_timeout_ms`` (120 s) has
    passed, which covers a leader election after a broker dies (seconds).
    Sized for ``settings.max_message_bytes``; ``options`` override or add
    ``KafkaProducer`` keyword arguments (``linger_ms`` ...).
    """
    config: dict[str, Any] = {
        "acks": "all",
        "enable_idempotence": True,
        "delivery_timeout_ms": 120_000,
        "linger_ms": 20,
        "max_request_size": settings.max_message_bytes + MESSAGE_OVERHEAD,
        "client_id": "newsstream-publish",
        **options,
    }
    return KafkaProducer(**connection_options(settings), **config)


def admin(settings: Settings, **options: Any) -> KafkaAdminClient:
    """Return a kafka-python admin client; ``options`` are further ``KafkaAdminClient`` keyword arguments."""
    return KafkaAdminClient(**connection_options(settings), **{"client_id": "newsstream-admin", **options})


def consumer(settings: Settings, group_id: str | None = None, **options: Any) -> KafkaConsumer:
    """Return a kafka-python consumer in consumer group ``group_id`` (None: no group, nothing committed).

    Auto-commit is off; ``options`` are further ``KafkaConsumer`` keyword arguments.
    """
    return KafkaConsumer(
        **connection_options(settings), **{"group_id": group_id, "enable_auto_commit": False, **options}
    )


@dataclass(frozen=True)
class Replication:
    """How the topics newsstream creates are replicated.

    ``factor``: replicas of each partition; ``min_insync``: the topic's
    ``min.insync.replicas`` (with ``acks=all`` a write succeeds once that
    many replicas have it, so ``factor - min_insync`` brokers may be lost
    without refusing writes); ``brokers``: the brokers the cluster reported.
    """

    factor: int
    min_insync: int
    brokers: int


def replication(settings: Settings, client: KafkaAdminClient) -> Replication:
    """Return the replication of new topics: ``settings.replication_factor`` and
    ``settings.min_insync_replicas``, or their defaults from the brokers ``client``'s
    cluster reports (the smaller of 3 and the broker count; 2 when the factor is 3 or more, else 1).

    Raises:
        ValueError: a factor above the broker count, or ``min.insync.replicas``
            above the factor (every write would be refused), named by setting.
    """
    brokers = len(client.describe_cluster()["brokers"])
    factor = settings.replication_factor or max(1, min(3, brokers))
    min_insync = settings.min_insync_replicas or (2 if factor >= 3 else 1)
    if factor > brokers:
        raise ValueError(
            f"NEWSSTREAM_REPLICATION_FACTOR={factor} but the cluster at {settings.kafka_bootstrap} "
            f"reports {brokers} broker(s)"
        )
    if min_insync > factor:
        raise ValueError(
            f"NEWSSTREAM_MIN_INSYNC_REPLICAS={min_insync} is above the replication factor {factor}: "
            "every write with acks=all would be refused"
        )
    return Replication(factor, min_insync, brokers)


def healthy(settings: Settings, timeout: float = 5.0) -> bool:
    """Return True when a broker of ``settings.kafka_bootstrap`` answers a metadata request."""
    try:
        # kafka-python waits bootstrap_timeout_ms (30 s by default) for a first broker
        ms = int(timeout * 1000)
        client = admin(settings, request_timeout_ms=ms, bootstrap_timeout_ms=ms)
        try:
            client.list_topics()
        finally:
            client.close()
        return True
    except Exception:  # any failure means "not healthy yet"
        return False
