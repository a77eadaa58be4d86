"""Orchestration of the parse stage: decode, sniff, extract, fill the record.

``parse`` is pure (no I/O, no network, no model): bytes or text in, a
:class:`~streams.records.ParsedArticle` or a :class:`ParseRejected` out.
"""

from __future__ import annotations

from streams.parsing.charset import decode_bytes, sniff_content_type
from streams.parsing.exceptions import ParseRejected
from streams.parsing.furniture import is_short_sentence
from streams.parsing.html import extract_html
from streams.parsing.language import detect_language
from streams.parsing.text import extract_text
from streams.parsing.words import canonical_url, normalise_text, reading_time, url_key, word_count
from streams.records import ParsedArticle, RawArticle, stable_id

MIN_BODY_WORDS = 5  # fewer words than this is no article body, unless they make a sentence


def parse(raw: RawArticle) -> ParsedArticle:
    """Parse a raw article (HTML page or plain page text) into clean fields.

    ``raw.content`` is bytes (any charset: BOM, ``<meta charset>`` or
    detection decide) or str; ``raw.content_type`` is ``"html"``, ``"text"``
    or None (then sniffed from the first 4 KB). Returns a ParsedArticle whose
    ``body`` has paragraphs separated by a blank line, ``published_at`` is ISO
    8601, ``language`` ISO 639-1, ``reading_time_min`` minutes at 230 words/min
    and ``id`` the stable id of the canonical URL's key (:func:`url_key`: the
    http and https, www and AMP, tracking-parameter and trailing-slash forms of
    one page have one id), else of the normalised body; ``canonical_url`` the
    URL the id was made from (None for an id made from the body).

    Raises:
        ParseRejected: reason ``"empty input"``, ``"binary input"``,
            ``"undecodable input"`` or ``"no article text"`` (nothing that
            reads as an article body could be extracted: fewer than five
            words, and no sentence).
    """
    content = raw.content
    if content is None:
        raise ParseRejected("empty input", "content is None")
    if isinstance(content, bytes):
        hint = None if raw.content_type is None else raw.content_type == "html"
        text, _charset = decode_bytes(content, is_html=hint)
    elif isinstance(content, str):
        text = content.lstrip("\ufeff")
        if "\x00" in text:
            raise ParseRejected("binary input", "NUL characters in the content")
    else:
        raise ParseRejected("undecodable input", f"content is {type(content).__name__}")
    if not text.strip():
        raise ParseRejected("empty input", "the content is only whitespace")
    ctype = raw.content_type if raw.content_type in ("html", "text") else sniff_content_type(text)

    if ctype == "html":
        found = extract_html(text, url=raw.url)
        lang_hint = found.lang_hint
        canonical = canonical_url(found.canonical_url) or canonical_url(raw.url)
    else:
        found = extract_text(text)
        lang_hint = None
        canonical = canonical_url(raw.url)
    body = found.body.strip()
    words = word_count(body)
    if words < MIN_BODY_WORDS and not any(is_short_sentence(p) for p in body.split("\n\n")):
        raise ParseRejected("no article text", f"{words} words of body found in the {ctype} page")
    language = detect_language(body, hint=lang_hint)
    key = url_key(canonical)
    return ParsedArticle(
        id=stable_id(key) if key else stable_id(normalise_text(body)),
        canonical_url=canonical if key else None,
        body=body,
        content_type=ctype,
        url=raw.url or canonical,
        title=found.title,
        authors=found.authors,
        publisher=found.publisher,
        published_at=found.published_at,
        image_caption=found.image_caption,
        image_credit=found.image_credit,
        related=found.related,
        publisher_tags=found.tags,
        language=language,
        word_count=words,
        reading_time_min=reading_time(words),
        source=raw.source,
        fetched_at=raw.fetched_at,
    )
