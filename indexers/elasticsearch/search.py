"""Queries and hits for ``newsstream search``: a query language users know, filters, sort.

The query text is Elasticsearch's ``simple_query_string`` (it never fails on
bad syntax): ``"exact phrase"``, ``+must``, ``-must_not``, ``a | b`` (or),
``prefix*``, ``(grouping)``; every word must match unless ``|`` says
otherwise. Two things users type from other search boxes are translated
before it is sent:

* ``field:value`` and ``field:"a phrase"`` (``title:Nadal``,
  ``-person:"Boris Johnson"``) search one field (:data:`FIELD_NAMES`);
* ``AND``, ``OR``, ``NOT`` in capitals become ``+``, ``|`` and ``-``.

Filters (person, organisation, place, country, tag, publisher, language,
author, date range) never change the score; ``sort`` is ``relevance`` or
``date`` (newest first, then score).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from indexers.elasticsearch.template import INTERNAL_FIELDS, mappings

#: Fields searched by default, with their boosts (``title^3``: a match in the title counts three times).
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

#: ``name:`` prefixes of the query text and the field each searches.
FIELD_NAMES = {
    "title": "title",
    "body": "body",
    "person": "persons.text",
    "persons": "persons.text",
    "org": "organizations.text",
    "organization": "organizations.text",
    "organisation": "organizations.text",
    "organizations": "organizations.text",
    "organisations": "organizations.text",
    "place": "places.text",
    "places": "places.text",
    "tag": "tags.text",
    "tags": "tags.text",
    "keyword": "keywords.text",
    "keywords": "keywords.text",
    "author": "authors.text",
    "authors": "authors.text",
    "publisher": "publisher.text",
    "caption": "image_caption",
}

Sort = Literal["relevance", "date"]

_FIELD_CLAUSE = re.compile(
    r'(?P<clause>(?<![\w"])(?P<sign>[-+]?)(?P<name>[A-Za-z]+):(?P<value>"[^"]*"?|[^\s"()|]+))|(?P<phrase>"[^"]*"?)'
)
_OPERATOR = re.compile(r'"[^"]*"?|\b(AND|OR|NOT)\b')
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$")


class QueryError(ValueError):
    """A search option cannot be used; the message names it and says what is expected."""


def check_date(option: str, value: str) -> str:
    """Return ``value`` if it is a date (``YYYY-MM-DD``) or an ISO 8601 date and time.

    Strict: ``2023-02-30``, ``2023-2-3``, ``yesterday`` or a trailing word
    are refused. Raises :class:`QueryError` naming ``option``.
    """
    value = value.strip()
    try:
        if _DATE.match(value):
            date.fromisoformat(value)
            return value
        if _DATETIME.match(value):
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            return value
    except ValueError:
        pass
    raise QueryError(f"{option} must be a date as YYYY-MM-DD (or YYYY-MM-DDTHH:MM:SS), not {value!r}")


def split_text(text: str) -> tuple[str, list[tuple[str, str, str]]]:
    """Split query text into the free text and its ``field:value`` clauses.

    Returns ``(rest, [(sign, field, value)])``; ``sign`` is ``""``, ``+`` or
    ``-``; ``field`` a name of :data:`FIELD_NAMES` already resolved to the
    indexed field. Unknown prefixes (``10:30``, ``http:``) stay in the text.
    """
    clauses: list[tuple[str, str, str]] = []

    def take(m: re.Match) -> str:
        if m.group("phrase") is not None:
            return m.group(0)  # a quoted phrase is left alone: a colon inside "a: b" is no field
        target = FIELD_NAMES.get(m.group("name").lower())
        if target is None:
            return m.group(0)
        clauses.append((m.group("sign"), target, m.group("value")))
        return " "

    rest = _FIELD_CLAUSE.sub(take, text)
    return " ".join(rest.split()), clauses


def translate_operators(text: str) -> str:
    """``a AND b`` -> ``a + b``, ``a OR b`` -> ``a | b``, ``NOT a`` -> ``-a`` (outside quoted phrases)."""

    def swap(m: re.Match) -> str:
        word = m.group(1)
        if word is None:
            return m.group(0)  # a quoted phrase
        return {"AND": "+", "OR": "|", "NOT": "-"}[word]

    out = _OPERATOR.sub(swap, text)
    return re.sub(r"-\s+(?=\S)", "-", out)  # "- x" (from NOT x) must touch its word


def _text_query(text: str, fields: list[str]) -> dict[str, Any]:
    return {
        "simple_query_string": {
            "query": translate_operators(text),
            "fields": fields,
            "default_operator": "and",
            "analyze_wildcard": True,
            "flags": "ALL",
        }
    }


def _phrase(field_name: str, value: str) -> dict[str, Any]:
    return {"match_phrase": {field_name: value}}


def build_query(
    text: str | None = None,
    *,
    fields: list[str] | None = None,
    persons: list[str] | None = None,
    organizations: list[str] | None = None,
    places: list[str] | None = None,
    countries: list[str] | None = None,
    tags: list[str] | None = None,
    publishers: list[str] | None = None,
    languages: list[str] | None = None,
    authors: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Return an Elasticsearch bool query: the text (see the module) plus filters.

    ``fields`` replaces :data:`SEARCH_FIELDS` (``["title^3", "body"]``).
    Each filter list is ANDed: ``persons=["A", "B"]`` finds articles naming
    both. ``persons``, ``organizations``, ``places``, ``tags``, ``authors``
    and ``publishers`` match a name as a phrase, case-insensitively;
    ``countries`` are ISO 3166-1 alpha-2 codes; ``languages`` ISO 639-1;
    ``since``/``until`` dates or date-times (a date alone in ``until``
    includes that whole day). Raises :class:`QueryError` on a bad date or code.
    """
    must: list[dict] = []
    must_not: list[dict] = []
    filters: list[dict] = []
    if text and text.strip() and text.strip() != "*":
        rest, clauses = split_text(text)
        if rest and rest != "*":
            must.append(_text_query(rest, fields or SEARCH_FIELDS))
        for sign, target, value in clauses:
            clause = _text_query(value, [target])
            (must_not if sign == "-" else must).append(clause)
    for names, target in (
        (persons, "persons.text"),
        (organizations, "organizations.text"),
        (places, "places.text"),
        (tags, "tags.text"),
        (publishers, "publisher.text"),
        (authors, "authors.text"),
    ):
        filters += [_phrase(target, name) for name in names or []]
    for code in countries or []:
        if len(code) != 2 or not code.isalpha():
            raise QueryError(f"--country must be an ISO 3166-1 alpha-2 code such as KZ, not {code!r}")
        filters.append({"term": {"countries": code.upper()}})
    for lang in languages or []:
        if len(lang) != 2 or not lang.isalpha():
            raise QueryError(f"--language must be an ISO 639-1 code such as en, not {lang!r}")
        filters.append({"term": {"language": lang.lower()}})
    span: dict[str, str] = {}
    if since:
        value = check_date("--since", since)
        span["gte"] = value
    if until:
        value = check_date("--until", until)
        # a date alone means the whole day: round up to its last millisecond
        span["lte"] = f"{value}||/d" if _DATE.match(value) else value
    if span:
        filters.append({"range": {"published_at": span}})
    if not must:
        must.append({"match_all": {}})
    query: dict[str, Any] = {"bool": {"must": must, "filter": filters}}
    if must_not:
        query["bool"]["must_not"] = must_not
    return query


HIGHLIGHT = {
    "pre_tags": ["«"],
    "post_tags": ["»"],
    "fields": {"title": {"number_of_fragments": 0}, "body": {"fragment_size": 160, "number_of_fragments": 2}},
}


def sort_clause(sort: Sort) -> list[Any]:
    """Elasticsearch's ``sort`` for ``relevance`` (score) or ``date`` (newest first, undated last, then score)."""
    if sort == "date":
        return [{"published_at": {"order": "desc", "missing": "_last"}}, "_score"]
    if sort == "relevance":
        return ["_score", {"published_at": {"order": "desc", "missing": "_last"}}]
    raise QueryError(f"--sort must be relevance or date, not {sort!r}")


_KNOWN_FIELDS: set[str] = set()


@dataclass
class Hit:
    """One search hit: the document's id, score, indexed fields (``source``) and highlighted fragments.

    ``source`` holds every field of the document as indexed, the plugins'
    fields included; :meth:`to_json` is what ``newsstream search --json`` prints.
    """

    id: str
    score: float | None
    source: dict[str, Any] = field(default_factory=dict)
    highlights: list[str] = field(default_factory=list)

    def get(self, name: str, default: Any = None) -> Any:
        return self.source.get(name, default)

    @property
    def title(self) -> str | None:
        return self.source.get("title")

    def to_json(self, body: bool = False) -> dict[str, Any]:
        """``{"id", "score", <every built-in field but the body>, "extra": {plugin fields}, "highlights"}``.

        ``body`` adds the body. Fields newsstream keeps for itself
        (:data:`~indexers.elasticsearch.template.INTERNAL_FIELDS`) are left out.
        """
        if not _KNOWN_FIELDS:
            _KNOWN_FIELDS.update(mappings(False)["properties"])
        out: dict[str, Any] = {"id": self.id, "score": self.score}
        extra: dict[str, Any] = {}
        for name, value in self.source.items():
            if name in INTERNAL_FIELDS or name == "id" or (name == "body" and not body):
                continue
            if name in _KNOWN_FIELDS:
                out[name] = value
            else:
                extra[name] = value
        out["extra"] = extra
        out["highlights"] = self.highlights
        return out


def search(
    client,
    index: str,
    text: str | None = None,
    size: int = 10,
    sort: Sort = "relevance",
    **filters: Any,
) -> tuple[int, list[Hit]]:
    """Run a search on ``index`` with a sync client; return ``(total, hits)``.

    ``filters`` are :func:`build_query`'s keywords. ``total`` is exact
    (``track_total_hits``). Raises :class:`QueryError` on a bad option and
    the client's errors (unreachable, no index, refused query).
    """
    resp = client.search(
        index=index,
        query=build_query(text, **filters),
        highlight=HIGHLIGHT,
        size=size,
        sort=sort_clause(sort),
        track_total_hits=True,
    )
    body = resp.body if hasattr(resp, "body") else resp
    total = body["hits"]["total"]["value"]
    return total, [to_hit(h) for h in body["hits"]["hits"]]


def to_hit(raw: dict[str, Any]) -> Hit:
    """Turn one raw Elasticsearch hit into a :class:`Hit`."""
    hl = raw.get("highlight", {})
    return Hit(
        id=raw["_id"],
        score=raw.get("_score"),
        source=raw.get("_source", {}),
        highlights=hl.get("title", []) + hl.get("body", []),
    )
