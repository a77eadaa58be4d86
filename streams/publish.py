"""Publishing raw articles to ``articles.raw`` with kafka-python.

Inputs are files or folders: ``.txt`` (plain text), ``.html``/``.htm``/
``.html.gz`` (HTML), ``.json`` (one envelope, or a list of them) and
``.jsonl`` (one envelope per line). An envelope is ``{"url", "content_type",
"html" | "text", "source", "fetched_at"}`` (see the README). A file or line
that cannot be read is reported as a :class:`InputError` naming it, and the
rest still go. Files are read as streams with the message limit
(:func:`read_bytes`): a gzip bomb is an input error, not 2 GB of memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient
from kafka import errors as kafka_errors
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError

from streams import kafka
from streams.inputs import (
    DEFAULT_LIMIT as DEFAULT_LIMIT,
)
from streams.inputs import (
    HTML_SUFFIXES as HTML_SUFFIXES,
)
from streams.inputs import (
    JSON_FILE_MESSAGES as JSON_FILE_MESSAGES,
)
from streams.inputs import (
    KNOWN_SUFFIXES as KNOWN_SUFFIXES,
)
from streams.inputs import (
    InputError as InputError,
)
from streams.inputs import (
    InputTooLarge as InputTooLarge,
)
from streams.inputs import (
    content_type_of as content_type_of,
)
from streams.inputs import (
    expand as expand,
)
from streams.inputs import (
    read_articles as read_articles,
)
from streams.inputs import (
    read_bytes as read_bytes,
)
from streams.records import RawArticle, stable_id
from streams.settings import Settings
from streams.topics import topic_names

log = logging.getLogger("newsstream.worker")


def article_key(raw: RawArticle) -> bytes:
    """Return the message key: a stable id of the URL, else of the whitespace-normalised content."""
    if raw.url:
        return stable_id(raw.url).encode()
    content = raw.content if isinstance(raw.content, str) else raw.content.decode("utf-8", "replace")
    return stable_id(" ".join(content.split())).encode()


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


@dataclass
class TopicReport:
    """What :func:`ensure_topics` did and found.

    ``replication``: the replication asked of new topics; ``created``: the
    topics created now; ``mismatches``: one plain line per way a topic that
    already existed differs from what newsstream needs (it is used as it is).
    """

    replication: Replication
    created: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


def leader_topic(app_id: str) -> str:
    """The name of faust's own leader-election topic of consumer group ``app_id`` (one partition)."""
    return f"{app_id}-__assignor-__leader"


def topic_configs(settings: Settings, rep: Replication) -> dict[str, str]:
    """The configs of a topic newsstream creates: its message size and ``min.insync.replicas``."""
    return {
        "max.message.bytes": str(settings.max_message_bytes + kafka.MESSAGE_OVERHEAD),
        "min.insync.replicas": str(rep.min_insync),
    }


def raw_key(key: bytes | None, raw: RawArticle | None = None) -> str | None:
    """Return the ``raw_key`` of a message on ``articles.raw``: what ties it to its document.

    Its key as text (``hex:`` and the bytes in hex when they are not UTF-8);
    for a message without a key (published by another tool than
    ``newsstream publish``, e.g. kcat), :func:`article_key` of its decoded
    ``raw`` article, which is what ``newsstream publish`` would have keyed it
    by, or None when ``raw`` is not given. The parse stage stores it in the
    record (``ParsedArticle.raw_key``), ``newsstream audit`` computes it
    again from the message: both call this function.
    """
    if key:
        try:
            return key.decode("utf-8")
        except UnicodeDecodeError:
            return "hex:" + key.hex()
    if raw is None:
        return None
    return article_key(raw).decode("ascii")


def ensure_topics(
    settings: Settings,
    names: list[str] | None = None,
    partitions: int | None = None,
    *,
    single_partition: tuple[str, ...] = (),
) -> TopicReport:
    """Create the pipeline's topics if they do not exist, and check the ones that do.

    New topics get ``partitions`` (default ``settings.partitions``) partitions
    (``single_partition`` names get one: faust's leader topic), the replication factor and
    ``min.insync.replicas`` of :func:`replication`, and a
    ``max.message.bytes`` that takes ``settings.max_message_bytes``;
    ``names`` instead of the pipeline's four topics creates those. A topic
    that already exists is used as it is; :func:`check_topics` reports, one
    line each, where it falls short.

    Raises:
        ValueError: the replication settings cannot be met (see :func:`replication`).
    """
    names = [*(names or list(topic_names(settings).values())), *single_partition]
    count = {n: 1 if n in single_partition else partitions or settings.partitions for n in names}
    # a topic sized on purpose (one partition: faust's leader topic, a replay topic) is not
    # checked against the worker processes
    sized = tuple(n for n in names if n in single_partition or partitions is not None)
    client = kafka.admin(settings)
    try:
        rep = replication(settings, client)
        report = TopicReport(rep)
        existing = set(client.list_topics())
        config = topic_configs(settings, rep)
        new = {
            n: {
                "num_partitions": count[n],
                "replication_factor": rep.factor,
                "configs": config,
            }
            for n in dict.fromkeys(names)
            if n not in existing
        }
        if new:
            result = client.create_topics(new, raise_errors=False)
            for topic in result.get("topics", []):
                code = topic.get("error_code", 0)
                if code == 0:
                    report.created.append(topic["name"])
                elif code != TopicAlreadyExistsError.errno:  # created meanwhile by another worker: as good
                    error = kafka_errors.for_code(code)
                    raise ValueError(
                        f"cannot create topic {topic['name']!r}: {error.__name__} {topic.get('error_message') or ''}".strip()
                    )
        old = [n for n in names if n in existing]
        if old:
            report.mismatches = check_topics(settings, client, old, rep, sized)
        return report
    finally:
        client.close()


def check_topics(
    settings: Settings,
    client: Any,
    names: list[str],
    rep: Replication,
    single_partition: tuple[str, ...] = (),
) -> list[str]:
    """Return one line per way the existing topics ``names`` fall short of what newsstream needs.

    Checked: fewer partitions than ``settings.worker_processes`` (processes
    beyond the partition count idle: a partition is consumed by one process
    of a consumer group at a time); a ``max.message.bytes`` under
    ``settings.max_message_bytes`` plus :data:`streams.kafka.MESSAGE_OVERHEAD`
    (larger records are refused: dead-lettered, and a dead letter refused
    is sent again and again); a replication factor or ``min.insync.replicas``
    under ``rep``'s. ``client`` is a kafka-python admin client.
    """
    lines: list[str] = []
    described = {t["name"]: t for t in client.describe_topics(names)}
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, n, configs={"max.message.bytes": None, "min.insync.replicas": None})
        for n in names
    ]
    configs = client.describe_configs(resources, config_filter="all").get("topic", {})
    need_bytes = settings.max_message_bytes + kafka.MESSAGE_OVERHEAD
    for name in names:
        parts = described.get(name, {}).get("partitions") or []
        if parts and name not in single_partition and len(parts) < settings.worker_processes:
            lines.append(
                f"topic {name} has {len(parts)} partition(s), fewer than the {settings.worker_processes} worker "
                f"processes (NEWSSTREAM_WORKER_PROCESSES): {settings.worker_processes - len(parts)} will idle"
            )
        factor = min((len(p.get("replica_nodes") or []) for p in parts), default=rep.factor)
        if factor < rep.factor:
            lines.append(
                f"topic {name} has replication factor {factor}, lower than the {rep.factor} asked "
                f"(NEWSSTREAM_REPLICATION_FACTOR): it survives the loss of {factor - 1} broker(s), not {rep.factor - 1}"
            )
        values = {k: v.get("value") for k, v in configs.get(name, {}).items()}
        size = _int(values.get("max.message.bytes"))
        if size is not None and size < need_bytes:
            lines.append(
                f"topic {name} takes messages up to {size} bytes (max.message.bytes), less than the {need_bytes} "
                f"newsstream may write (NEWSSTREAM_MAX_MESSAGE_BYTES + {kafka.MESSAGE_OVERHEAD}): larger records "
                "are refused"
            )
        isr = _int(values.get("min.insync.replicas"))
        if isr is not None and isr < rep.min_insync:
            lines.append(
                f"topic {name} has min.insync.replicas={isr}, lower than the {rep.min_insync} asked "
                f"(NEWSSTREAM_MIN_INSYNC_REPLICAS): a write is acknowledged with {isr} copy(ies)"
            )
    return lines


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def ensure_topics_logged(settings: Settings, app_id: str) -> TopicReport:
    """:func:`ensure_topics` for a worker of consumer group ``app_id`` (faust's leader topic too): logs
    the replication and each way an existing topic falls short, one line each (the worker still starts)."""
    report = ensure_topics(settings, single_partition=(leader_topic(app_id),))
    rep = report.replication
    log.info(
        "topics: replication factor %d, min.insync.replicas %d (%d brokers); created: %s",
        rep.factor,
        rep.min_insync,
        rep.brokers,
        ", ".join(report.created) or "none",
    )
    for line in report.mismatches:
        log.warning("%s", line)
    return report
