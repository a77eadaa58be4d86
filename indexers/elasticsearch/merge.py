"""One article, one document: which inputs are the same article, and how their records merge.

Pure functions (no Elasticsearch); :meth:`indexers.elasticsearch.merging.MergingWriter.write_merged`
looks the candidates up and writes the result.

**Same article.** Two records are one article when

* they have the same id: the parse stage makes it from the canonical URL's
  key (http/https, www/m/amp hosts, AMP paths, tracking keys and a trailing
  slash do not count), else from the normalised body; or
* the evidence is strong without a shared URL (:func:`same_article`): one of
  them at least has no canonical URL, their titles are the same once case,
  accents of punctuation and spacing are set aside (:func:`title_keys`, titles
  of three words or more), their bodies' 64-bit simhash fingerprints differ in
  at most :data:`MAX_FINGERPRINT_BITS` bits, and nothing says otherwise:
  not published more than a day apart, not in two different languages.

Two records with different canonical URLs are never merged, however alike:
syndicated copies on two sites are two documents. A record without a URL
that matches two such documents is merged with neither.

**Merging.** A document keeps, for each field, the value of the richest input
that has one (:func:`rank`: a canonical URL first, then an HTML page, then
more metadata fields filled, a later fetch, a longer body); the body and what
the enrichment made of it (entities, names, places, countries, keywords,
tags, fingerprint, language, plugin fields) travel together, from the best
body (an HTML page's first). The rank each field came with is kept in the
document (``dedup.ranks``), so merging is a maximum per field: the same
result whatever the order the inputs arrive in and however often one is
delivered again. ``aliases`` holds the ids of every input merged.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

#: Bits two bodies' simhash fingerprints may differ in and still be one article's. Chosen by 10-fold
#: cross-validation on the 121 development pages (``bench/dedupe.py``): the largest distance no pair
#: of different pages came within in the training folds (16 in every fold; held out, 0 of 55,392
#: pairs of different pages merged, and 73 of 121 pages' HTML and text forms).
MAX_FINGERPRINT_BITS = 16

#: A title shorter than this (in words) says too little to match on ("Letters", "Opinion").
MIN_TITLE_WORDS = 3

#: Published dates further apart than this are two articles (a day's slack: time zones).
MAX_DATE_DAYS = 1

#: Fields that come with the body: what the enrichment made of it.
BODY_FIELDS = (
    "body",
    "content_type",
    "word_count",
    "reading_time_min",
    "language",
    "fingerprint",
    "entities",
    "persons",
    "organizations",
    "places",
    "countries",
    "keywords",
    "tags",
    "enrichment_notes",
)

#: Metadata fields, each taken from the richest input that has it.
META_FIELDS = (
    "url",
    "canonical_url",
    "title",
    "authors",
    "publisher",
    "published_at",
    "image_caption",
    "image_credit",
    "related",
    "publisher_tags",
    "source",
    "fetched_at",
)

#: Fields of the document that are not merged field by field. ``raw_key`` (the key of the raw message
#: that made the document; ``newsstream audit`` looks documents up by it) stays the first input's: a
#: re-delivered input under another key leaves the document as it was (the audit finds it by its id).
OWN_FIELDS = ("id", "aliases", "dedup", "ingested_at", "raw_key")


def _norm(text: str) -> str:
    folded = text.casefold()
    if not folded.isascii():
        folded = unicodedata.normalize("NFKD", folded)
        folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\W_]+", " ", folded).split())


def title_keys(title: str | None) -> list[str]:
    """The keys a title is matched by: its words, case- and accent-folded, without punctuation.

    Empty for a title of fewer than :data:`MIN_TITLE_WORDS` words.
    """
    if not title:
        return []
    key = _norm(title)
    return [key] if len(key.split()) >= MIN_TITLE_WORDS else []


def hamming(a: str, b: str) -> int:
    """Bits two 16-hex-digit fingerprints differ in."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _filled(value: Any) -> bool:
    """A value that says something: not None, not an empty string, list or dict (0 and False do)."""
    return value is not None and (bool(value) or isinstance(value, (int, float)))


def digest(source: dict[str, Any]) -> str:
    """A stable digest of a record's content: the last tie-break between two inputs of equal rank."""
    content = {k: v for k, v in source.items() if k not in OWN_FIELDS}
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def rank(source: dict[str, Any]) -> list[Any]:
    """How rich one input record (an index document source) is, as a list compared element by element.

    ``[has a canonical URL, is an HTML page, metadata fields filled, fetched_at, word count, digest]``.
    """
    return [
        int(_filled(source.get("canonical_url"))),
        int(source.get("content_type") == "html"),
        sum(1 for f in META_FIELDS if _filled(source.get(f))),
        source.get("fetched_at") or "",
        int(source.get("word_count") or 0),
        digest(source),
    ]


def body_rank(source: dict[str, Any], own: list[Any] | None = None) -> list[Any]:
    """How good an input's body is: an HTML page's extraction first, then a canonical URL, a longer body.

    ``own`` is :func:`rank` of the same source when already computed."""
    r = own or rank(source)
    return [r[1], r[0], r[4], r[5]]


def state(source: dict[str, Any], doc_id: str) -> dict[str, Any]:
    """The document an input record (``to_document``'s source) makes on its own, with its merge state."""
    doc = {k: v for k, v in source.items() if k not in ("dedup", "aliases")}
    own = rank(source)
    ranks: dict[str, Any] = {"body": body_rank(source, own)}
    for name in META_FIELDS:
        if _filled(source.get(name)):
            ranks[name] = own
    doc["id"] = doc_id
    doc["aliases"] = sorted({doc_id, str(source.get("id") or doc_id)})
    doc["dedup"] = {
        "title_keys": title_keys(source.get("title")),
        "fingerprints": [source["fingerprint"]] if source.get("fingerprint") else [],
        "ranks": ranks,
    }
    return doc


def _body_names(doc: dict[str, Any]) -> list[str]:
    """The body fields of a document: :data:`BODY_FIELDS` and any field plugins added (unknown fields)."""
    known = set(META_FIELDS) | set(OWN_FIELDS)
    return [k for k in doc if k not in known] + [f for f in BODY_FIELDS if f not in doc]


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Merge two documents (each :func:`state` or an earlier merge) into one; ``a`` gives the id.

    Commutative, associative and idempotent apart from the id and ``raw_key`` (``a``'s): each field is
    the value that came with the highest rank, lists of ids and keys are
    unions, ``ingested_at`` the later.
    """
    ra, rb = a["dedup"]["ranks"], b["dedup"]["ranks"]
    out: dict[str, Any] = {"id": a["id"]}
    body_from = a if ra["body"] >= rb["body"] else b
    for name in _body_names(a) + [n for n in _body_names(b) if n not in a]:
        if name in body_from:
            out[name] = body_from[name]
    ranks: dict[str, Any] = {"body": max(ra["body"], rb["body"])}
    for name in META_FIELDS:
        ka, kb = ra.get(name), rb.get(name)
        if ka is None and kb is None:
            continue
        winner = a if kb is None or (ka is not None and ka >= kb) else b
        out[name] = winner[name]
        ranks[name] = winner["dedup"]["ranks"][name]
    out["aliases"] = sorted(set(a.get("aliases", [])) | set(b.get("aliases", [])))
    if a.get("raw_key") or b.get("raw_key"):
        out["raw_key"] = a.get("raw_key") or b.get("raw_key")
    times = [t for t in (a.get("ingested_at"), b.get("ingested_at")) if t]
    if times:
        out["ingested_at"] = max(times)
    out["dedup"] = {
        "title_keys": sorted(set(a["dedup"]["title_keys"]) | set(b["dedup"]["title_keys"])),
        "fingerprints": sorted(set(a["dedup"]["fingerprints"]) | set(b["dedup"]["fingerprints"])),
        "ranks": ranks,
    }
    return out


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


@dataclass
class Candidate:
    """A document an input might belong to: its id, whether its id is a URL's, and its matching keys."""

    id: str
    strong: bool
    title_keys: list[str]
    fingerprints: list[str]
    aliases: list[str]
    published_at: str | None = None
    language: str | None = None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Candidate:
        """The candidate a document (an index source with ``dedup``, or a :func:`state`) makes."""
        dedup = doc.get("dedup") or {}
        return cls(
            id=doc["id"],
            strong=_filled(doc.get("canonical_url")),
            title_keys=list(dedup.get("title_keys") or []),
            fingerprints=list(dedup.get("fingerprints") or []),
            aliases=list(doc.get("aliases") or [doc["id"]]),
            published_at=doc.get("published_at"),
            language=doc.get("language"),
        )

    def distance(self, other: Candidate) -> int | None:
        """The closest fingerprints' distance in bits, or None when either has none."""
        pairs = [hamming(x, y) for x in self.fingerprints for y in other.fingerprints]
        return min(pairs) if pairs else None


def same_article(a: Candidate, b: Candidate, max_bits: int = MAX_FINGERPRINT_BITS) -> bool:
    """Is the evidence strong that ``a`` and ``b`` are one article though their ids differ? (see the module)."""
    if a.strong and b.strong:
        return False  # two canonical URLs that differ: two articles, however alike
    if not set(a.title_keys) & set(b.title_keys):
        return False
    distance = a.distance(b)
    if distance is None or distance > max_bits:
        return False
    da, db = _day(a.published_at), _day(b.published_at)
    if da and db and abs((da - db).days) > MAX_DATE_DAYS:
        return False
    return not (a.language and b.language and a.language != b.language)


@dataclass
class Target:
    """Where an input goes: the document ``id``, and the other documents merged into it and deleted."""

    id: str
    absorbs: list[str]


def resolve(record: Candidate, found: list[Candidate], existing: set[str] | frozenset[str] = frozenset()) -> Target:
    """Decide the document of one input, given the documents found with its title key or id.

    ``found`` are the candidates (documents in the index, and the batch's
    other inputs); ``existing`` the ids of documents the index has.

    * A document whose ``aliases`` hold the input's id already has it: that one.
    * An input with a canonical URL keeps its id, and takes in the documents
      without one that are the same article (:func:`same_article`).
    * An input without: the one document with a canonical URL that is the same
      article (none if two are: syndication is ambiguous); else the closest
      same-article document without one, the smaller id of the two being the
      document (so the result does not depend on which came first).
    """
    others = [c for c in found if c.id != record.id]
    for c in others:
        if record.id in c.aliases:
            return Target(c.id, [])
    same = [c for c in others if same_article(record, c)]
    if record.strong:
        return Target(record.id, sorted(c.id for c in same if not c.strong))
    own = [record.id] if record.id in existing else []  # its own document, if it has one
    strong = [c for c in same if c.strong]
    if len(strong) > 1:
        return Target(record.id, [])
    if strong:
        return Target(strong[0].id, own)
    if not same:
        return Target(record.id, [])
    best = min(same, key=lambda c: (record.distance(c) or 0, c.id))
    if best.id < record.id:
        return Target(best.id, own)
    return Target(record.id, [best.id])


def routing_key(title: str | None, doc_id: str) -> bytes:
    """The key of an enriched record on its topic: its title key when it has one, else its id.

    Inputs that may be one article (:func:`same_article` needs the same title
    key) then land on one partition and reach one index agent, in order:
    that agent finds the first one's document when the second arrives, instead
    of two agents writing two documents at the same time.
    """
    keys = title_keys(title)
    text = f"title:{keys[0]}" if keys else doc_id
    return hashlib.sha256(text.encode()).hexdigest()[:32].encode()
