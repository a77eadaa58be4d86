"""Query building and hit formatting for ``newsstream search``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indexers.elasticsearch.template import mappings

SEARCH_FIELDS = [
    "title^3",
    "body",
    "tags.text^2",
    "persons.text^2",
    "organizations.text^2",
    "places.text^2",
    "keywords.text",
    "authors.text",
    "image_caption",
]


@dataclass
class Hit:
    """One search hit: the fields ``newsstream search`` shows, and highlighted fragments."""

    id: str
    score: float | None
    title: str | None
    published_at: str | None
    persons: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    organizations: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    url: str | None = None
    publisher: str | None = None
    highlights: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def build_query(
    text: str | None = None,
    *,
    person: str | None = None,
    country: str | None = None,
    tag: str | None = None,
    since: str | None = None,
) -> dict[str, Any]:
    """Return an Elasticsearch bool query: full-text ``text`` plus exact filters.

    ``person`` and ``tag`` match the keyword lists case-insensitively through
    their text sub-fields as a phrase; ``country`` is an ISO 3166-1 alpha-2
    code; ``since`` an ISO 8601 date (``published_at >= since``).
    """
    must: list[dict] = []
    filters: list[dict] = []
    if text and text.strip() and text.strip() != "*":
        must.append({"multi_match": {"query": text, "fields": SEARCH_FIELDS, "type": "best_fields"}})
    if person:
        filters.append({"match_phrase": {"persons.text": person}})
    if country:
        filters.append({"term": {"countries": country.upper()}})
    if tag:
        filters.append({"match_phrase": {"tags.text": tag}})
    if since:
        # the format pins how the value is read: never as epoch milliseconds
        filters.append({"range": {"published_at": {"gte": since, "format": "strict_date_optional_time"}}})
    if not must:
        must.append({"match_all": {}})
    return {"bool": {"must": must, "filter": filters}}


HIGHLIGHT = {
    "pre_tags": ["«"],
    "post_tags": ["»"],
    "fields": {"title": {"number_of_fragments": 0}, "body": {"fragment_size": 160, "number_of_fragments": 2}},
}


def search(client, index: str, text: str | None = None, size: int = 10, **filters: Any) -> tuple[int, list[Hit]]:
    """Run a search on ``index`` with a sync client; return ``(total, hits)``."""
    resp = client.search(index=index, query=build_query(text, **filters), highlight=HIGHLIGHT, size=size)
    body = resp.body if hasattr(resp, "body") else resp
    total = body["hits"]["total"]["value"]
    return total, [to_hit(h) for h in body["hits"]["hits"]]


_KNOWN_FIELDS: set[str] = set()


def to_hit(raw: dict[str, Any]) -> Hit:
    """Turn one raw Elasticsearch hit into a :class:`Hit`.

    ``extra`` holds the fields plugins added (any field the built-in mapping
    does not have).
    """
    if not _KNOWN_FIELDS:
        _KNOWN_FIELDS.update(mappings(False)["properties"])
    src = raw.get("_source", {})
    hl = raw.get("highlight", {})
    return Hit(
        id=raw["_id"],
        score=raw.get("_score"),
        title=src.get("title"),
        published_at=src.get("published_at"),
        persons=src.get("persons", []),
        places=src.get("places", []),
        organizations=src.get("organizations", []),
        countries=src.get("countries", []),
        tags=src.get("tags", []),
        url=src.get("url"),
        publisher=src.get("publisher"),
        highlights=hl.get("title", []) + hl.get("body", []),
        extra={k: v for k, v in src.items() if k not in _KNOWN_FIELDS},
    )
