"""HTML pages: three extractors vote on the body; trafilatura reads the metadata.

The body is the paragraph-level vote of :mod:`~streams.parsing.ensemble` over
three independent extractors: trafilatura (fast path, favouring precision,
no comments), the Rust rs-trafilatura (news article profile) and
trafilatura's port of Readability (asked only when the other two disagree on
enough words). A line is kept when the weighted votes reach the threshold;
kept furniture lines and a leading repeat of the headline are dropped. The
focus, weights, threshold and filter are those 5-fold cross-validation on the
development set chose (``bench/extraction.py``, ``bench/README.md``).
Title: the headline the reader sees (:mod:`~streams.parsing.headline`);
byline, date and site name come from trafilatura's metadata steps; tags only from the page's own
metadata (meta tags, JSON-LD) and tag links inside the article, never from
site navigation.
"""

from __future__ import annotations

import re
from contextlib import suppress
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

import rs_trafilatura
from lxml import etree
from lxml.html import HtmlElement, fromstring, tostring

from streams.parsing.dates import normalise_date
from streams.parsing.defuse import defuse_metadata
from streams.parsing.ensemble import Ballot, Opinion, ballots, merge, needs, record, select
from streams.parsing.extracted import Extracted
from streams.parsing.furniture import is_furniture
from streams.parsing.headline import headline
from streams.parsing.identity import fragment_of
from streams.parsing.markup import drop_keeping_tails, extract_large, load_tree, too_large
from streams.parsing.metadata import clean_authors, clean_title
from streams.parsing.pagefields import figure, page_tags, related_titles

if TYPE_CHECKING:
    from trafilatura.settings import Document

# The vote: weights of trafilatura, rs-trafilatura and Readability, and the
# threshold a line's weighted votes must reach (two of three). Chosen on the 121
# development pages by bench/extraction.py (its choice on all pages, and on four
# of the five folds; see bench/README.md).
WEIGHTS = (1.0, 1.0, 1.0)
THRESHOLD = 2.0
DROP_FURNITURE = True  # then drop kept lines that are furniture (furniture.is_furniture)
# trafilatura's own trade-off ("balanced", "precision" or "recall"), chosen with them
FOCUS = "precision"
# Readability (4 ms a page) is asked only when its vote can decide at least this
# many words: on the development pages, lines disputed by fewer words never
# changed F1 by 0.001, and it is then asked on 48 pages of 121 instead of 75.
_ASK_READABILITY_FROM = 10
# Asides, footers and the head: trafilatura's extraction deletes them first thing
# (settings.MANUALLY_CLEANED), but only after its copies of the tree and its
# raw-tree XPaths have run over them. ``prune_xpath`` removes them from the copy
# trafilatura extracts from (our metadata steps read the whole tree: byline,
# tags and dates may live there), so the extraction works on a smaller tree
# (5-10% faster when measured; no field of the development pages changed).
# Three expressions, not one union: libxml2 merges a union's node-sets in time
# the product of their sizes (see streams.parsing.markup).
_EXTRACT_OPTIONS: dict[str, Any] = {
    "fast": True,
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    "prune_xpath": ["//aside", "//footer", "//head"],
}


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


_INERT_TAGS = frozenset(
    "style svg template nav menu noscript iframe button select textarea canvas audio video object embed".split()
)


def _inert(el: Any) -> bool:
    tag = el.tag
    if not isinstance(tag, str):
        return bool(tag is etree.Comment)
    if tag == "script":
        return "ld+json" not in (el.get("type") or "")
    return tag in _INERT_TAGS or tag.rpartition("}")[2] == "svg"


def _drop_inert(tree: HtmlElement) -> None:
    """Remove what no extractor reads (scripts but JSON-LD, styles, SVG, comments)
    and what trafilatura's cleaning drops anyway (navigation and menus, noscript,
    iframes, form controls, media players), keeping each removed node's tail text.

    trafilatura's regex XPaths and its tree copies then run over a smaller tree
    (HTML pages parse about 10% faster on the development set), and its tag search
    no longer reads a site menu's links as the article's tags. ``input`` elements
    stay: htmldate reads publication dates from hidden inputs.

    One walk, and each kept node's tail written once: linear in the page (a
    union XPath over these tags, and ``drop_tree`` one element at a time, are
    quadratic on a page of thousands of them; see streams.parsing.markup)."""
    drop_keeping_tails([el for el in tree.iter() if _inert(el)])


# rs-trafilatura recurses over the tree: nesting in the tens of thousands
# crashes the process (stack overflow) and thousands of levels take seconds.
# It reads our lxml tree re-serialised, which libxml2 caps at 255 levels; this
# guard keeps it out should a deeper tree ever come through.
# (A path of 256 element steps: one pass over the tree, level by level.)
_TOO_DEEP_FOR_RS = etree.XPath("boolean(/" + "/".join(["*"] * 256) + ")")


def _rs_opinion(tree: HtmlElement, url: str | None) -> Opinion | None:
    """rs-trafilatura's lines for the page (None when the tree is too deep for it)."""
    if _TOO_DEEP_FOR_RS(tree):
        return None
    # news pages: its article profile, without the page-type classifier (40% of its time)
    found = rs_trafilatura.extract(
        tostring(tree, encoding="unicode"), url=url, page_type="article", include_images=False
    )
    return Opinion.from_text(found.main_content)


def _readability_opinion(tree: HtmlElement) -> Opinion:
    """Readability's article text (trafilatura's port; it mutates ``tree``)."""
    from trafilatura.readability_lxml import Document  # noqa: PLC0415 - see _trafilatura

    try:
        summary = Document(tree).summary()
        return Opinion([fromstring(summary).text_content()]) if summary else Opinion([])
    except (etree.ParserError, ValueError):
        return Opinion([])


def body_ballots(tree: HtmlElement, url: str | None, trafilatura_text: str | None, lazy: bool = True) -> list[Ballot]:
    """Return the vote table of the page's lines: ``[Ballot(line, [trafilatura,
    rs-trafilatura, readability])]``, lines in document order.

    Readability is asked only when its vote can change the outcome of
    lines of ``_ASK_READABILITY_FROM`` words or more under :data:`WEIGHTS`
    and :data:`THRESHOLD` (``lazy``), else its votes stay None;
    it runs last because it mutates ``tree``."""
    traf = Opinion.from_text(trafilatura_text)
    rs = _rs_opinion(tree, url) or traf  # too deep for rs-trafilatura: trafilatura's text is the body
    table = ballots(merge(traf, rs), [traf, rs, None])
    if not lazy or needs(table, WEIGHTS, THRESHOLD, 2, _ASK_READABILITY_FROM):
        record(table, 2, _readability_opinion(tree))
    return table


def body_lines(
    table: list[Ballot],
    weights: tuple[float, ...] = WEIGHTS,
    threshold: float = THRESHOLD,
    drop_furniture: bool = DROP_FURNITURE,
    titles: tuple[str | None, ...] = (),
) -> list[str]:
    """The article's lines: those the vote keeps, without furniture lines and
    without leading lines that repeat one of ``titles`` (the headline is the
    title, not the body's first paragraph)."""
    lines = [ln for ln in select(table, weights, threshold) if not (drop_furniture and is_furniture(ln))]
    heads = {_words(t) for t in titles if t}
    first = 0
    while first < len(lines) and _words(lines[first]) in heads:
        first += 1
    return lines[first:]


def _metadata(tree: HtmlElement, url: str | None) -> Any:
    """trafilatura's metadata steps (its ``extract_metadata``) for what we use:
    meta tags and JSON-LD first, then title, author, URL, date, site name.
    Left out: categories and tags from link lists anywhere on the page (site
    menus: tags come from :func:`_tags`) and the licence.

    The date is htmldate's from the page's markup; its extensive search of
    the text runs only when that finds none, and a 1 January date from it is
    dropped (a bare year or a copyright line: no date beats a wrong one)."""
    from htmldate import find_date  # noqa: PLC0415 - see _trafilatura
    from trafilatura.metadata import (  # noqa: PLC0415
        META_URL,
        examine_meta,
        extract_author,
        extract_meta_json,
        extract_sitename,
        extract_title,
        extract_url,
    )
    from trafilatura.settings import set_date_params  # noqa: PLC0415

    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None
    with suppress(Exception):  # trafilatura's own guard: its JSON-LD reader has known bugs
        meta = extract_meta_json(tree, meta)
    meta.title = meta.title or extract_title(tree)
    meta.author = meta.author or extract_author(tree)
    meta.url = meta.url or extract_url(tree, url)
    params = {**set_date_params(False), "url": meta.url}
    meta.date = find_date(tree, **params)
    if not meta.date:
        date = find_date(tree, **{**params, "extensive_search": True})
        meta.date = None if date and date[4:] == "-01-01" else date
    meta.sitename = meta.sitename or extract_sitename(tree)
    if meta.sitename:
        meta.sitename = meta.sitename.lstrip("@")
        if meta.sitename and "." not in meta.sitename and not meta.sitename[0].isupper():
            meta.sitename = meta.sitename.title()
    elif meta.url and (m := META_URL.match(meta.url)):
        meta.sitename = m[1]
    meta.clean_and_trim()
    return meta


def _read(tree: HtmlElement, url: str | None, focus: str = FOCUS) -> tuple[Any, str]:
    """Return the metadata and trafilatura's text with its ``focus`` (``""``
    when it found no body) of a loaded tree (:func:`_load`), whose metadata
    strings are first defused (:func:`~streams.parsing.defuse.defuse_metadata`)."""
    # imported here, not at the top: trafilatura and htmldate cost 0.4 s and
    # tens of MB at import that plain-text parsing and `newsstream parse` of
    # text files never need
    from trafilatura import bare_extraction  # noqa: PLC0415

    defuse_metadata(tree)
    doc = bare_extraction(  # works on a copy of the tree
        tree,
        url=url,
        with_metadata=False,
        favor_precision=focus == "precision",
        favor_recall=focus == "recall",
        **_EXTRACT_OPTIONS,
    )
    text_found = cast("Document", doc).text if doc is not None else None  # a Document: as_dict is off
    return _metadata(tree, url), text_found or ""


def _trafilatura(text: str, url: str | None, focus: str = FOCUS) -> tuple[HtmlElement | None, Any, str]:
    """Return the page's tree (:func:`~streams.parsing.markup.load_tree`,
    inert parts dropped), its metadata and trafilatura's text with its
    ``focus``; ``(None, None, "")`` when the page has no tree."""
    tree = load_tree(text)
    if tree is None:
        return None, None, ""
    _drop_inert(tree)
    meta, body = _read(tree, url, focus)
    return tree, meta, body


def vote_table(text: str, url: str | None = None, focus: str = FOCUS) -> tuple[list[Ballot], tuple[str | None, ...]]:
    """The page's vote table with every opinion asked, and its titles
    (``bench/extraction.py`` cross-validates the focus, weights and
    threshold on them)."""
    tree, meta, body = _trafilatura(text, url, focus)
    if tree is None:
        return [], ()
    titles = (clean_title(headline(tree, meta.title, meta.sitename or None), meta.sitename or None), meta.title)
    return body_ballots(tree, url, body, lazy=False), titles


_ANCHOR = etree.XPath("//*[@id = $name or @name = $name]")


def _names_an_anchor(tree: HtmlElement, fragment: str) -> bool:
    """Whether ``fragment`` (as in a URL, maybe percent-encoded) names an element of the page."""
    if not fragment:
        return False
    names = {fragment, unquote(fragment)}
    return any(bool(_ANCHOR(tree, name=name)) for name in names)


def extract_html(text: str, url: str | None = None) -> Extracted:
    """Extract the article body and metadata from an HTML page.

    ``text`` is the decoded page; ``url`` the page URL if known. Returns
    :class:`~streams.parsing.extracted.Extracted` with ``body == ""`` when no article text was found
    (the caller turns that into a rejection). A page too large for the
    extractors to read in bounded time is read as plain page text
    (:func:`~streams.parsing.markup.extract_large`).

    Raises:
        ParseRejected: ``"markup nested too deeply"`` (see
            :func:`~streams.parsing.markup.load_tree`); nothing else on bad markup.
    """
    tree = load_tree(text)
    if tree is None:
        return Extracted(body="")
    anchor = _names_an_anchor(tree, fragment_of(url))
    _drop_inert(tree)
    if too_large(tree):
        large = extract_large(tree)
        large.fragment_is_anchor = anchor
        return large
    doc, body = _read(tree, url)
    publisher = doc.sitename or None
    title = clean_title(headline(tree, doc.title, publisher), publisher)
    caption, credit = figure(tree)
    related = related_titles(tree)
    tags = page_tags(tree, doc)
    lang = tree.get("lang") or tree.get("xml:lang")
    if not lang:
        metas = tree.xpath('//meta[@http-equiv="content-language" or @property="og:locale"]/@content')
        lang = metas[0] if metas else None
    canon = doc.url if doc.url and re.match(r"https?://", doc.url) else None
    # last: Readability mutates the tree
    lines = body_lines(body_ballots(tree, url, body), titles=(title, doc.title))
    return Extracted(
        body="\n\n".join(lines),
        title=title,
        authors=clean_authors(doc.author),
        publisher=publisher,
        published_at=normalise_date(doc.date),
        canonical_url=canon,
        image_caption=caption,
        image_credit=credit,
        related=related,
        tags=tags,
        lang_hint=lang,
        fragment_is_anchor=anchor,
    )
