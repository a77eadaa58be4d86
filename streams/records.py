"""Records that travel on newsstream's topics, and their orjson codec.

The data takes one road (see ``README.md``)::

    bytes on articles.raw      -> RawArticle        (decode_raw)
    ParsedArticle on articles.parsed   (streams.parsing.parse)
    EnrichedArticle on articles.enriched (streams.enrichment.enrich)
    DeadLetter on articles.dlq         (any stage that cannot handle a message)

Every topic carries bytes; the agents decode and encode with :func:`dumps` and
the ``from_bytes`` constructors here, so a message that cannot be decoded is a
rejection with a reason (and goes to the dead-letter topic with its original
bytes) instead of an exception inside faust's codec, which would skip it.

Each stage adds fields and never rewrites an earlier stage's: an
``EnrichedArticle`` is a ``ParsedArticle`` plus the enrichment fields.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeGuard

import orjson

from streams.validation import RecordError as RecordError
from streams.validation import check_datetime, check_text_field, check_url, envelope_fault, meant_as_envelope

ContentType = Literal["html", "text"]


def is_content_type(value: object) -> TypeGuard[ContentType]:
    """True when ``value`` is ``"html"`` or ``"text"``."""
    return value in ("html", "text")


def dumps(obj: Any) -> bytes:
    """Encode a record (dataclass) or a plain JSON value to UTF-8 JSON bytes with orjson."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def _loads_object(data: bytes, kind: str) -> dict:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RecordError("invalid JSON", f"{kind}: {exc}") from exc
    if not isinstance(obj, dict):
        raise RecordError("not a JSON object", f"{kind}: got {type(obj).__name__}")
    return obj


def stable_id(text: str) -> str:
    """Return a stable 32-hex-digit id (the first 128 bits of SHA-256) of ``text``."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def now_iso(timespec: str = "seconds") -> str:
    """Return the current UTC time as an ISO 8601 string (``timespec`` as in ``datetime.isoformat``)."""
    return datetime.now(UTC).isoformat(timespec=timespec)


class _Record:
    """Shared (de)serialisation for the dataclass records below."""

    kind: ClassVar[str] = "record"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_bytes(self) -> bytes:
        return dumps(self)

    @classmethod
    def from_dict(cls, obj: dict[str, Any]):
        """Build the record from a dict, ignoring unknown keys.

        Raises:
            RecordError: a required field is missing.
        """
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs = {k: v for k, v in obj.items() if k in names}
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise RecordError(f"not a {cls.kind}", str(exc)) from exc

    @classmethod
    def from_bytes(cls, data: bytes):
        """Decode JSON bytes into the record. Raises :class:`RecordError`."""
        return cls.from_dict(_loads_object(data, cls.kind))


@dataclass
class RawArticle(_Record):
    """A raw article as published to ``articles.raw``.

    ``content`` is the page as bytes (HTML or plain text, any charset) or as an
    already-decoded ``str``; ``content_type`` is ``"html"``, ``"text"`` or
    ``None`` when the publisher did not say (the parser then sniffs it).
    """

    kind: ClassVar[str] = "raw article"

    content: bytes | str
    content_type: ContentType | None = None
    url: str | None = None
    source: str | None = None
    fetched_at: str | None = None


def decode_raw(value: bytes | None, headers: dict[str, bytes] | None = None) -> RawArticle:
    """Decode a message value from ``articles.raw`` into a :class:`RawArticle`.

    Two forms are accepted (documented in the README):

    * a JSON envelope ``{"url", "content_type", "html" | "text", "source",
      "fetched_at"}`` (``content_type`` optional: it defaults to the key that
      holds the content);
    * anything else: the bare bytes of a page, HTML or plain text; the optional
      message headers ``content_type``, ``url`` and ``source`` describe it.

    Envelopes and headers are checked strictly (:func:`check_url`,
    :func:`check_text_field`): an envelope that is not valid UTF-8 JSON (an
    invalid byte, a lone surrogate escape such as ``\\ud800``) is rejected
    rather than read as a bare page whose text is the envelope.

    Raises:
        RecordError: the value is empty; a JSON envelope without content; an
            invalid envelope (``"invalid envelope"``: not UTF-8, a lone
            surrogate, broken JSON); an ``"invalid url"`` (not http or https,
            no host, a control character, too long); a control character in
            another field; a header that is not UTF-8.
    """
    if not value or not value.strip():
        raise RecordError("empty message", "the value has no bytes")
    headers = headers or {}
    stripped = value.lstrip()
    if stripped[:1] in (b"{", b"[", b'"') or stripped in (b"null", b"true", b"false") or stripped[:1].isdigit():
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            if stripped[:1] == b"{" and meant_as_envelope(value):
                raise RecordError("invalid envelope", envelope_fault(value, exc)) from exc
            obj = _NOT_JSON  # not JSON after all: a bare page that starts like JSON
        if obj is not _NOT_JSON and not (
            isinstance(obj, dict) and ({"html", "text", "url", "content_type"} & obj.keys())
        ):
            raise RecordError("not an article envelope", f"JSON {type(obj).__name__} without 'html' or 'text'")
        if isinstance(obj, dict):
            for name in ("url", "source", "fetched_at", "content_type"):
                if obj.get(name) is not None and not isinstance(obj[name], str):
                    raise RecordError(f"invalid {name}", f"must be a string, not {type(obj[name]).__name__}")
                if obj.get(name):
                    check_text_field(name, obj[name])
            if obj.get("url"):
                check_url(obj["url"])
            if obj.get("fetched_at"):
                check_datetime(obj["fetched_at"])
            html, text = obj.get("html"), obj.get("text")
            if not isinstance(html, str) and not isinstance(text, str):
                raise RecordError("envelope without content", "needs an 'html' or 'text' string")
            content_type = obj.get("content_type") or ("html" if isinstance(html, str) else "text")
            if not is_content_type(content_type):
                raise RecordError("unknown content_type", repr(content_type))
            if isinstance(html, str) and (content_type == "html" or not isinstance(text, str)):
                content = html
            else:
                content = str(text)  # a str already: one of the two is (checked above)
            return RawArticle(
                content=content,
                content_type=content_type,
                url=obj.get("url") or None,
                source=obj.get("source") or None,
                fetched_at=obj.get("fetched_at") or None,
            )

    def header(name: str) -> str | None:
        raw = headers.get(name)
        if not raw:
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(f"invalid {name}", f"header {name} is not UTF-8 (byte {exc.start})") from exc
        check_text_field(name, text)
        return text

    content_type = header("content_type") or None
    if content_type is not None and not is_content_type(content_type):
        raise RecordError("unknown content_type", f"header content_type={content_type!r}")
    url = header("url")
    if url:
        check_url(url)
    return RawArticle(
        content=value,
        content_type=content_type,
        url=url,
        source=header("source"),
    )


_NOT_JSON = object()


def encode_raw(article: RawArticle) -> bytes:
    """Encode a :class:`RawArticle` as the JSON envelope ``decode_raw`` reads.

    Bytes content is decoded as UTF-8 when it is valid UTF-8; otherwise the
    bare bytes are returned (``decode_raw`` accepts both, and the parser finds
    the charset), so nothing is lost.
    """
    content = article.content
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            return article.content  # type: ignore[return-value]
    key = "html" if article.content_type == "html" else "text"
    env: dict[str, Any] = {key: content}
    for name in ("content_type", "url", "source", "fetched_at"):
        if getattr(article, name):
            env[name] = getattr(article, name)
    return dumps(env)


@dataclass
class ParsedArticle(_Record):
    """A parsed article, on ``articles.parsed``.

    Fields (issue 3): ``published_at`` is ISO 8601 (a date alone when no time is
    known); ``body`` has paragraphs separated by a blank line; ``language`` is
    ISO 639-1; ``reading_time_min`` is minutes at 230 words/min;
    ``canonical_url`` is the URL the ``id`` was made from (None when the id
    is made from the body: no URL was known). ``raw_key`` names the message
    on ``articles.raw`` the article came from (its key, see
    :func:`streams.publish.raw_key`), set by the parse stage: ``newsstream
    audit`` finds each raw message's document by it.
    """

    kind: ClassVar[str] = "parsed article"

    id: str
    body: str
    content_type: ContentType
    url: str | None = None
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    publisher: str | None = None
    published_at: str | None = None
    image_caption: str | None = None
    image_credit: str | None = None
    related: list[str] = field(default_factory=list)
    publisher_tags: list[str] = field(default_factory=list)
    language: str | None = None
    word_count: int = 0
    reading_time_min: int = 0
    source: str | None = None
    fetched_at: str | None = None
    canonical_url: str | None = None
    raw_key: str | None = None


@dataclass
class Entity:
    """One named entity of an article: canonical name, OntoNotes label,
    number of mentions in the article, ISO 3166-1 alpha-2 country or None."""

    name: str
    label: str
    mentions: int = 1
    country: str | None = None


@dataclass
class EnrichedArticle(ParsedArticle):
    """A parsed article plus enrichment, on ``articles.enriched`` (issue 4).

    ``entities`` holds :class:`Entity` dicts; ``countries`` ISO 3166-1 alpha-2
    codes; ``fingerprint`` a 64-bit simhash of the body as 16 hex digits;
    ``extra`` the fields added by enricher plugins.
    """

    kind: ClassVar[str] = "enriched article"

    entities: list[dict[str, Any]] = field(default_factory=list)
    persons: list[str] = field(default_factory=list)
    organizations: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    enrichment_notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def dict_from_bytes(cls, data: bytes) -> dict[str, Any]:
        """Decode to a plain dict, checking only the required fields: the indexer's fast path.

        Building the dataclass and ``asdict`` again cost the index agent about
        a quarter of its time (bench/indexing.py); the index mapping checks
        the rest. Raises :class:`RecordError`.
        """
        obj = _loads_object(data, cls.kind)
        if not isinstance(obj.get("id"), str) or not obj["id"] or not isinstance(obj.get("body"), str):
            raise RecordError(f"not a {cls.kind}", "needs a string 'id' and 'body'")
        return obj

    @classmethod
    def from_parsed(cls, parsed: ParsedArticle, **fields: Any) -> EnrichedArticle:
        """Copy every field of ``parsed`` and set the enrichment ``fields``."""
        return cls(**dataclasses.asdict(parsed), **fields)


@dataclass
class DeadLetter(_Record):
    """A message a stage could not handle, on ``articles.dlq``.

    ``stage`` is ``parse``, ``enrich``, ``index`` or a plugin's name;
    ``reason`` a short phrase; ``error`` the exception class (or the
    Elasticsearch error type); ``original`` the message's value, base64, and
    ``headers`` its headers (``{name: base64}``), so the message can be
    replayed byte for byte with ``newsstream dlq replay``; ``url`` and
    ``source`` the article's, when the message names them. A replayed
    message that fails again names the first letter of its story in
    ``replay_of`` (``PARTITION@OFFSET`` on the dead-letter topic) and counts
    its ``attempt`` (1 for a first failure): see
    :mod:`streams.delivery.deadletters`.
    """

    kind: ClassVar[str] = "dead letter"

    stage: str
    reason: str
    error: str
    topic: str
    partition: int | None
    offset: int | None
    original: str
    key: str | None = None
    detail: str = ""
    failed_at: str = field(default_factory=lambda: now_iso("milliseconds"))
    original_size: int = 0
    original_truncated: bool = False
    url: str | None = None
    source: str | None = None
    replay_of: str | None = None
    attempt: int = 1
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def wrap(
        cls,
        *,
        stage: str,
        reason: str,
        error: str,
        topic: str,
        partition: int | None,
        offset: int | None,
        value: bytes | None,
        key: bytes | str | None = None,
        detail: str = "",
        max_original_bytes: int = 4 * 1024 * 1024,
    ) -> DeadLetter:
        """Wrap a failed message; ``value`` bytes are kept base64-encoded.

        A value over ``max_original_bytes`` is cut to that size (base64 adds a
        third, and the letter must stay under the topic's message limit);
        ``original_truncated`` says so, and topic/partition/offset still point
        at the whole message.
        """
        key = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        value = value or b""
        size = len(value)
        truncated = size > max_original_bytes
        value = value[:max_original_bytes]
        return cls(
            stage=stage,
            reason=reason,
            error=error,
            topic=topic,
            partition=partition,
            offset=offset,
            original=base64.b64encode(value).decode("ascii"),
            key=key,
            detail=detail[:4000],
            original_size=size,
            original_truncated=truncated,
        )

    def original_bytes(self) -> bytes:
        """Return the failed message's value exactly as it was."""
        return base64.b64decode(self.original)
