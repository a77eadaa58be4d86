"""Plugins: enrichers and consumer agents discovered through Python entry points.

(Placeholder: built-ins only; entry-point discovery comes with issue 6.)
"""

from __future__ import annotations

from streams.settings import Settings


def load_enrichers() -> list:
    """Return the enricher plugins found (none yet)."""
    return []


def register_consumer_agents(app, topics, settings: Settings, only: set[str] | None) -> list:
    """Register plugin consumer agents on ``app`` (none yet)."""
    return []


def describe(settings: Settings) -> list[dict]:
    """Rows for ``newsstream agents list``: kind, name, origin, topics, consumer group."""
    group = settings.app_id
    return [
        {"kind": "agent", "name": "parse", "origin": "newsstream (built-in)", "topics": f"{settings.topic_raw} -> {settings.topic_parsed}", "group": group},
        {"kind": "agent", "name": "enrich", "origin": "newsstream (built-in)", "topics": f"{settings.topic_parsed} -> {settings.topic_enriched}", "group": group},
        {"kind": "agent", "name": "index", "origin": "newsstream (built-in)", "topics": f"{settings.topic_enriched} -> es:{settings.index_alias}", "group": group},
    ]
