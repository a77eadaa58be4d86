"""Index template, versioned index and alias for articles.

The alias ``articles`` (``settings.index_alias``) points at the versioned
index ``articles-v1``; a composable index template ``articles`` holds the
mapping for every ``articles-v*`` index. The mapping is explicit and
``dynamic: strict``: a document with a field the mapping does not know is
rejected (and dead-lettered) rather than guessed.

Text analysis depends on the cluster: a full distribution has the
``analysis-common`` module, and there text fields use an English analyzer with
ASCII folding (so ``Gente`` finds ``Genté``); the minimal distribution on
Maven Central lacks it, and there they use the ``standard`` analyzer.
:func:`ensure_index` returns which, and the worker logs it at start.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

log = logging.getLogger(__name__)

#: Fields of a document that newsstream keeps for itself (how merged inputs are matched), not article fields.
INTERNAL_FIELDS: frozenset[str] = frozenset({"dedup"})

ENGLISH_ANALYSIS = {
    "filter": {
        "english_stop": {"type": "stop", "stopwords": "_english_"},
        "english_stemmer": {"type": "stemmer", "language": "english"},
        "english_possessive_stemmer": {"type": "stemmer", "language": "possessive_english"},
    },
    "analyzer": {
        # Elasticsearch's "english" analyzer rebuilt, plus asciifolding
        "article_text": {
            "type": "custom",
            "tokenizer": "standard",
            "filter": [
                "english_possessive_stemmer",
                "lowercase",
                "asciifolding",
                "english_stop",
                "english_stemmer",
            ],
        },
        "folded": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
    },
    "normalizer": {"folded_keyword": {"type": "custom", "filter": ["lowercase", "asciifolding"]}},
}


def _keyword_text(analyzer: str) -> dict[str, Any]:
    """A text field with a ``.keyword`` sub-field for filters and aggregations."""
    return {"type": "text", "analyzer": analyzer, "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}}


def _name_list(normalizer: str | None) -> dict[str, Any]:
    """A keyword list (exact names, for filters and Kibana terms) with a searchable text sub-field."""
    kw: dict[str, Any] = {"type": "keyword", "ignore_above": 256}
    if normalizer:
        kw["fields"] = {"text": {"type": "text", "analyzer": "folded"}}
    else:
        kw["fields"] = {"text": {"type": "text"}}
    return kw


def mappings(full_analysis: bool) -> dict[str, Any]:
    """Return the explicit mapping of an enriched article document.

    Every field of :class:`streams.records.EnrichedArticle` (except ``extra``,
    whose plugin fields are added by :func:`add_fields`) plus ``ingested_at``.
    """
    text = "article_text" if full_analysis else "standard"
    names = _name_list("folded_keyword" if full_analysis else None)
    return {
        "dynamic": "strict",
        "properties": {
            "id": {"type": "keyword"},
            "url": {"type": "keyword", "ignore_above": 2048},
            "title": _keyword_text(text),
            "body": {"type": "text", "analyzer": text},
            "content_type": {"type": "keyword"},
            "authors": copy.deepcopy(names),
            "publisher": {"type": "keyword", "fields": {"text": {"type": "text"}}},
            "published_at": {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
            "ingested_at": {"type": "date"},
            "fetched_at": {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
            "image_caption": {"type": "text", "analyzer": text},
            "image_credit": {"type": "text", "analyzer": text},
            "related": _keyword_text(text),
            "publisher_tags": copy.deepcopy(names),
            "language": {"type": "keyword"},
            "word_count": {"type": "integer"},
            "reading_time_min": {"type": "integer"},
            "source": {"type": "keyword"},
            "entities": {
                "properties": {
                    "name": {"type": "keyword"},
                    "label": {"type": "keyword"},
                    "mentions": {"type": "integer"},
                    "country": {"type": "keyword"},
                }
            },
            "persons": copy.deepcopy(names),
            "organizations": copy.deepcopy(names),
            "places": copy.deepcopy(names),
            "countries": {"type": "keyword"},
            "keywords": copy.deepcopy(names),
            "tags": copy.deepcopy(names),
            "fingerprint": {"type": "keyword"},
            "enrichment_notes": {"type": "keyword"},
            # one article, one document (indexers/elasticsearch/merge.py): the URL the id was made
            # from, the ids of every input merged, and how the inputs are matched and merged
            "canonical_url": {"type": "keyword", "ignore_above": 2048},
            "aliases": {"type": "keyword"},
            # the key of the message on articles.raw the document came from: newsstream audit looks it up
            "raw_key": {"type": "keyword", "ignore_above": 1024},
            "dedup": {
                "properties": {
                    "title_keys": {"type": "keyword", "ignore_above": 1024},
                    "fingerprints": {"type": "keyword"},
                    "ranks": {"type": "object", "enabled": False},
                }
            },
        },
    }


def index_template(
    alias: str, full_analysis: bool, refresh_interval: str = "500ms", shards: int = 1, replicas: int = 0
) -> dict[str, Any]:
    """Return the composable index template body for ``{alias}-v*`` indices
    (``shards`` primary shards, ``replicas`` replicas of each)."""
    settings: dict[str, Any] = {
        "number_of_shards": shards,
        "number_of_replicas": replicas,
        "refresh_interval": refresh_interval,
    }
    if full_analysis:
        settings["analysis"] = ENGLISH_ANALYSIS
    return {
        "index_patterns": [f"{alias}-v*"],
        "priority": 100,
        "template": {"settings": settings, "mappings": mappings(full_analysis)},
        "_meta": {"managed_by": "newsstream", "full_analysis": full_analysis},
    }


def cluster_has_analysis_common(client) -> bool:
    """Return True when every node of the cluster has the ``analysis-common`` module."""
    info = client.nodes.info(metric="plugins", filter_path="nodes.*.modules.name")
    nodes = info.get("nodes", {}) if hasattr(info, "get") else info.body.get("nodes", {})
    if not nodes:
        return False
    return all(any(m.get("name") == "analysis-common" for m in n.get("modules", [])) for n in nodes.values())


def data_nodes(client) -> int:
    """Return how many data nodes the cluster has (``_cluster/health``)."""
    return int(client.cluster.health()["number_of_data_nodes"])


def default_replicas(client) -> int:
    """Replicas of a new index: one when the cluster has a second data node to hold it, else none
    (a replica is never allocated on its primary's node: on one node it would keep the index yellow)."""
    return min(1, max(0, data_nodes(client) - 1))


def ensure_index(
    client,
    alias: str = "articles",
    version: int = 1,
    refresh_interval: str = "500ms",
    *,
    shards: int = 1,
    replicas: int | None = None,
) -> dict[str, Any]:
    """Put the template and create ``{alias}-v{version}`` behind ``alias`` if missing.

    ``client`` is a synchronous ``elasticsearch.Elasticsearch``. A new index
    gets ``shards`` primary shards and ``replicas`` replicas of each (None:
    :func:`default_replicas`). Returns ``{"index", "alias", "analysis":
    "english+asciifolding" | "standard", "shards", "replicas", "mismatches"}``:
    ``shards`` and ``replicas`` are the index's own, ``mismatches`` one line
    per way an existing index differs from what was asked (fewer shards or
    replicas; it is used as it is). Idempotent: an existing index keeps its
    mapping, takes the fields the mapping gained since it was created (new
    fields only, which Elasticsearch allows on a live index) and
    ``refresh_interval`` (a dynamic setting) if it had another.
    """
    full = cluster_has_analysis_common(client)
    if replicas is None:
        replicas = default_replicas(client)
    template = index_template(alias, full, refresh_interval, shards, replicas)
    client.indices.put_index_template(name=alias, **template)
    index = f"{alias}-v{version}"
    mismatches: list[str] = []
    if not client.indices.exists(index=index):
        try:
            client.indices.create(index=index, aliases={alias: {"is_write_index": True}})
        except Exception as exc:  # created by a concurrent worker in between
            if "resource_already_exists_exception" not in str(exc):
                raise
    else:
        if not client.indices.exists_alias(name=alias, index=index):
            client.indices.put_alias(index=index, name=alias, is_write_index=True)
        current = client.indices.get_settings(index=index, name="index.refresh_interval")
        if current.get(index, {}).get("settings", {}).get("index", {}).get("refresh_interval") != refresh_interval:
            client.indices.put_settings(index=index, settings={"index": {"refresh_interval": refresh_interval}})
        missing = dict(template["template"]["mappings"]["properties"])
        for name in current_properties(client, index):
            missing.pop(name, None)
        if missing:
            client.indices.put_mapping(index=index, properties=missing)
            log.info("index %s: mapped the new fields %s", index, ", ".join(sorted(missing)))
    got = client.indices.get_settings(index=index, name="index.number_of_*")
    found = got.get(index, {}).get("settings", {}).get("index", {})
    have_shards, have_replicas = int(found.get("number_of_shards", shards)), int(found.get("number_of_replicas", 0))
    if have_shards < shards:
        mismatches.append(
            f"index {index} has {have_shards} primary shard(s), fewer than the {shards} asked (NEWSSTREAM_INDEX_SHARDS)"
        )
    if have_replicas < replicas:
        mismatches.append(
            f"index {index} has {have_replicas} replica(s), fewer than the {replicas} asked "
            f"(NEWSSTREAM_INDEX_REPLICAS): losing a node holding a primary loses its documents until it returns"
        )
    analysis = "english+asciifolding" if full else "standard"
    log.info("index %s behind alias %s, text analysis: %s", index, alias, analysis)
    return {
        "index": index,
        "alias": alias,
        "analysis": analysis,
        "shards": have_shards,
        "replicas": have_replicas,
        "mismatches": mismatches,
    }


def current_properties(client, alias: str) -> dict[str, Any]:
    """Return the mapped top-level properties of the index behind ``alias``."""
    resp = client.indices.get_mapping(index=alias)
    body = resp.body if hasattr(resp, "body") else resp
    for idx in body.values():
        return idx["mappings"].get("properties", {})
    return {}


def add_fields(client, alias: str, fields: dict[str, dict[str, Any]]) -> None:
    """Add plugin fields (``{name: mapping}``) to the index and template mappings.

    Raises:
        MappingClash: a field exists with another type.
    """
    existing = current_properties(client, alias)
    for name, spec in fields.items():
        if name in existing and existing[name].get("type") != spec.get("type"):
            raise MappingClash(name, existing[name].get("type"), spec.get("type"))
    new = {k: v for k, v in fields.items() if k not in existing}
    if new:
        client.indices.put_mapping(index=alias, properties=new)


class MappingClash(ValueError):
    """A plugin declares a field the index already maps with another type."""

    def __init__(self, field: str, existing: str | None, wanted: str | None) -> None:
        super().__init__(f"field {field!r} is mapped as {existing!r} in the index, the plugin declares {wanted!r}")
        self.field = field
