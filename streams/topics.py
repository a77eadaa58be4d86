"""The one map of the pipeline's topics: stage -> topic name, from settings.

Topics are named in settings (``NEWSSTREAM_TOPIC_RAW`` ...); everything that
needs a name asks here, by key (``raw``, ``parsed``, ``enriched``, ``dlq``) or
by stage (``parse`` reads ``raw``, ``enrich`` reads ``parsed``, ``index`` reads
``enriched``).
"""

from __future__ import annotations

from streams.settings import Settings

#: The pipeline's topics, in the order the data takes them.
KEYS = ("raw", "parsed", "enriched", "dlq")

#: The built-in stages (agents) and the topic key each reads.
STAGE_INPUT = {"parse": "raw", "enrich": "parsed", "index": "enriched"}

#: The topic key each built-in stage writes (the index stage writes to Elasticsearch).
STAGE_OUTPUT = {"parse": "parsed", "enrich": "enriched"}


def topic_names(settings: Settings) -> dict[str, str]:
    """Return ``{key: topic name}`` for the four topics of :data:`KEYS`."""
    return {
        "raw": settings.topic_raw,
        "parsed": settings.topic_parsed,
        "enriched": settings.topic_enriched,
        "dlq": settings.topic_dlq,
    }


def resolve(settings: Settings, topic: str) -> str:
    """Return the topic name of a key of :data:`KEYS`, or ``topic`` itself (any other name)."""
    return topic_names(settings).get(topic, topic)


def replay_log(settings: Settings) -> str:
    """Return the topic where ``newsstream dlq replay|discard`` record what they did:
    ``<dead-letter topic>.replays`` (so a namespaced pipeline has its own)."""
    return f"{settings.topic_dlq}.replays"


def input_topic(settings: Settings, stage: str) -> str:
    """Return the name of the topic a built-in ``stage`` reads.

    Raises:
        KeyError: ``stage`` is not one of :data:`STAGE_INPUT`.
    """
    return topic_names(settings)[STAGE_INPUT[stage]]


def namespace_env(prefix: str) -> dict[str, str]:
    """Return the ``NEWSSTREAM_*`` variables that give a pipeline its own names.

    Topics ``<prefix>.raw|parsed|enriched|dlq``, consumer group ``<prefix>``
    and alias ``<prefix>-articles``: several pipelines (tests, benchmarks,
    tenants) can then share one Kafka and one Elasticsearch without seeing
    each other's messages. ``prefix`` must be lower case (index names are).
    """
    env = {f"NEWSSTREAM_TOPIC_{key.upper()}": f"{prefix}.{key}" for key in KEYS}
    env["NEWSSTREAM_APP_ID"] = prefix
    env["NEWSSTREAM_INDEX_ALIAS"] = f"{prefix}-articles"
    return env
