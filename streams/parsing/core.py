"""Orchestration of the parse stage: decode, sniff, extract, fill the record.

``parse`` is pure (no I/O, no network, no model): bytes or text in, a
:class:`~streams.records.ParsedArticle` or a :class:`ParseRejected` out.
"""

from __future__ import annotations

from streams.parsing.charset import decode_bytes, sniff_content_type
from streams.parsing.exceptions import ParseRejected
from streams.parsing.furniture import is_short_sentence
from streams.parsing.html import extract_html
from streams.parsing.identity import identity_url
from streams.parsing.language import detect_language
from streams.parsing.text import extract_text
from streams.parsing.words import canonical_url, normalise_text, reading_time, url_key, word_count
from streams.records import ParsedArticle, RawArticle, stable_id

MIN_BODY_WORDS = 5  # fewer words than this is no article body, unless they make a sentence
#: The longest title, image caption, image credit, publisher and author kept
#: (characters), and the most authors. A page's fields are input: a
#: 500,000-character ``<title>`` reached NER and cost the model's time, and
#: past ``nlp.max_length`` the whole article was dead-lettered. The development
#: set's longest title has 208 characters, caption 301, credit 56, publisher 43,
#: author 39, and no page more than 3 authors.
MAX_TITLE_CHARS = 1_000
MAX_CAPTION_CHARS = 2_000
MAX_NAME_CHARS = 300
MAX_AUTHORS = 50


def cut(text: str | None, limit: int) -> str | None:
    """``text`` cut to at most ``limit`` characters, at a space when there is one
    in its second half, and ended with "…" when cut; None stays None."""
    if text is None or len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip() + "…"


def parse(raw: RawArticle) -> ParsedArticle:
    """Parse a raw article (HTML page or plain page text) into clean fields.

    ``raw.content`` is bytes (any charset: BOM, ``<meta charset>`` or
    detection decide) or str; ``raw.content_type`` is ``"html"``, ``"text"``
    or None (then sniffed from the first 4 KB). Returns a ParsedArticle whose
    ``body`` has paragraphs separated by a blank line, ``published_at`` is ISO
    8601, ``language`` ISO 639-1, ``reading_time_min`` minutes at 230 words/min
    and ``id`` the stable id of the key (:func:`url_key`: the http and https,
    www and AMP, tracking-parameter and trailing-slash forms of one page have
    one key) of the article's URL as :func:`~streams.parsing.identity.identity_url`
    picks it (the page's own URL, or its canonical link on the same site; a
    fragment that is no anchor of the page kept), else of the normalised body;
    ``canonical_url`` the URL the id was made from (None for an id made from the body).

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
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: no charset writes it
            raise ParseRejected(
                "undecodable input", f"lone surrogate U+{ord(text[exc.start]):04X} at character {exc.start}"
            ) from exc
    else:
        raise ParseRejected("undecodable input", f"content is {type(content).__name__}")
    if not text.strip():
        raise ParseRejected("empty input", "the content is only whitespace")
    ctype = raw.content_type if raw.content_type in ("html", "text") else sniff_content_type(text)

    if ctype == "html":
        found = extract_html(text, url=raw.url)
        lang_hint = found.lang_hint
        canonical = canonical_url(found.canonical_url) or canonical_url(raw.url)
        identity = identity_url(raw.url, found.canonical_url, found.fragment_is_anchor)
    else:
        found = extract_text(text)
        lang_hint = None
        canonical = canonical_url(raw.url)
        identity = identity_url(raw.url, None)
    body = found.body.strip()
    words = word_count(body)
    if words < MIN_BODY_WORDS and not any(is_short_sentence(p) for p in body.split("\n\n")):
        raise ParseRejected("no article text", f"{words} words of body found in the {ctype} page")
    language = detect_language(body, hint=lang_hint)
    key = url_key(identity)
    if key is None and not raw.url and canonical:
        # no URL of its own: the canonical link it claims names it, in an id space of its own,
        # so that it never takes the place of the article at that link (streams.parsing.identity)
        claimed = url_key(canonical)
        key, identity = (f"claimed:{claimed}", canonical) if claimed else (None, identity)
    return ParsedArticle(
        id=stable_id(key) if key else stable_id(normalise_text(body)),
        canonical_url=identity if key else None,
        body=body,
        content_type=ctype,
        url=raw.url or canonical,
        title=cut(found.title, MAX_TITLE_CHARS),
        authors=[a for a in (cut(a, MAX_NAME_CHARS) for a in found.authors[:MAX_AUTHORS]) if a],
        publisher=cut(found.publisher, MAX_NAME_CHARS),
        published_at=found.published_at,
        image_caption=cut(found.image_caption, MAX_CAPTION_CHARS),
        image_credit=cut(found.image_credit, MAX_NAME_CHARS),
        related=found.related,
        publisher_tags=found.tags,
        language=language,
        word_count=words,
        reading_time_min=reading_time(words),
        source=raw.source,
        fetched_at=raw.fetched_at,
    )
