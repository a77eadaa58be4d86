"""The record an extractor (HTML or plain text) returns to :func:`streams.parsing.parse`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Extracted:
    """What an extractor (HTML or text) found in a page.

    ``body`` has paragraphs separated by a blank line (``""`` when nothing
    was found); ``published_at`` is ISO 8601; ``tags`` are the site's own
    topic tags in title case; ``lang_hint`` a declared language (``"en-GB"``);
    ``fragment_is_anchor`` whether the page has an element (``id`` or ``<a
    name>``) that the page URL's ``#fragment`` names (see
    :mod:`streams.parsing.identity`).
    """

    body: str
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    publisher: str | None = None
    published_at: str | None = None
    canonical_url: str | None = None
    image_caption: str | None = None
    image_credit: str | None = None
    related: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    lang_hint: str | None = None
    fragment_is_anchor: bool = False
