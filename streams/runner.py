"""Starting a worker: topics, index, plugins checked, then the faust worker.

Everything that can be wrong with the set-up (Elasticsearch away, a plugin
field that clashes with the index mapping) fails here, at start, with a clear
message, rather than as failed documents later.
"""

from __future__ import annotations

import logging
import time

from streams.settings import Settings

log = logging.getLogger("newsstream.worker")


class StartupError(RuntimeError):
    """The worker cannot start; the message says why."""


def wait_for_elasticsearch(settings: Settings, timeout: float | None = None):
    """Return a sync Elasticsearch client once the cluster answers (yellow or green).

    Raises:
        StartupError: not reachable within ``timeout`` seconds (default
            ``settings.services_timeout_seconds``).
    """
    from elasticsearch import Elasticsearch

    client = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    deadline = time.monotonic() + (timeout or settings.services_timeout_seconds)
    while True:
        try:
            client.cluster.health(wait_for_status="yellow", timeout="5s")
            return client
        except Exception as exc:
            if time.monotonic() > deadline:
                raise StartupError(f"Elasticsearch not reachable at {settings.elasticsearch_url}: {exc}") from exc
            time.sleep(2)


def prepare(settings: Settings) -> dict:
    """Create topics and the index; check plugin fields against the mapping.

    Returns ``{"index": ..., "analysis": ..., "enrichers": [...]}``.
    """
    from indexers.elasticsearch.template import add_fields, ensure_index
    from streams.plugins import load_enrichers
    from streams.publish import ensure_topics

    ensure_topics(settings)
    es = wait_for_elasticsearch(settings)
    info = ensure_index(es, settings.index_alias, settings.index_version, settings.refresh_interval)
    log.info("index %s behind alias %s; text analysis: %s", info["index"], settings.index_alias, info["analysis"])
    enrichers = load_enrichers()
    fields: dict = {}
    for e in enrichers:
        fields.update(e.mapping())
    if fields:
        add_fields(es, settings.index_alias, fields)
    es.close()
    info["enrichers"] = enrichers
    return info


def run_worker(settings: Settings, only: set[str] | None = None, loglevel: str = "info") -> None:
    """Run the built-in agents (or ``only`` those named) and the plugin agents in a faust worker."""
    from faust.worker import Worker

    from streams.agents import Pipeline
    from streams.app import create_app, create_topics
    from streams.plugins import register_consumer_agents

    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    info = prepare(settings)
    print(f"newsstream worker: index {info['index']} (alias {settings.index_alias}), text analysis: {info['analysis']}", flush=True)
    app = create_app(settings)
    topics = create_topics(app, settings)
    pipeline = Pipeline(app, topics, settings, info["enrichers"])
    pipeline.register(only)
    register_consumer_agents(app, topics, settings, only)
    if only is None or "enrich" in only:
        pipeline.nlp()  # load the model before consuming, not on the first batch
    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
