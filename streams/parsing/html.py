"""HTML pages: trafilatura and htmldate, with our corrections.

trafilatura finds the main text and the metadata; we then correct what it gets
wrong on news pages (measured on the article-extraction development set, see
``bench/extraction.py``):

* comments and tables are left out (reader comments are not the article);
* ``paywall`` classes are neutralised: trafilatura drops such containers, but
  when a page ships the paywalled text it is the article body;
* an article split over several sibling containers of the same class
  (``article__body`` chunks between ad rails) is read whole;
* leading lines repeating the title or the standfirst, and furniture lines
  (newsletter boxes, share prompts, "Write to … at", copyright, reprint
  notices) are removed with the rules shared with plain-text pages.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from lxml import etree
from lxml.html import HtmlElement

from streams.parsing.dates import normalise_date
from streams.parsing.extracted import Extracted
from streams.parsing.furniture import is_furniture
from streams.parsing.metadata import clean_authors, clean_title, tag_case
from streams.parsing.words import word_count

if TYPE_CHECKING:
    from trafilatura.settings import Document

_RETRY_BELOW_WORDS = 60  # fewer words from the fast path: retry with the fallbacks
# Asides, footers and the head: trafilatura's extraction deletes them first thing
# (settings.MANUALLY_CLEANED), but only after its copies of the tree and its
# raw-tree XPaths have run over them. ``prune_xpath`` removes them right after
# the metadata is read (byline, tags and dates may live there), so the
# extraction works on a smaller tree: HTML pages parse 5-10% faster, and no field
# of the 243 development-set pages changes.
_EXTRACT_OPTIONS: dict[str, Any] = dict(
    fast=True,
    include_comments=False,
    include_tables=False,
    include_images=False,
    include_links=False,
    prune_xpath=["//aside | //footer | //head"],
)


def _text(el: HtmlElement) -> str:
    return " ".join(el.text_content().split())


def _neutralise_paywall(tree: HtmlElement) -> None:
    for el in tree.xpath('//*[contains(@class, "paywall") or contains(@id, "paywall")]'):
        for attr in ("class", "id"):
            value = el.get(attr)
            if value and "paywall" in value:
                el.set(attr, value.replace("paywall", "pw-open"))


_INERT = etree.XPath(
    '//script[not(contains(@type, "ld+json"))] | //style | //svg | //*[local-name()="svg"] | //template | //comment()'
    " | //nav | //menu | //noscript | //iframe | //button | //select | //textarea | //canvas"
    " | //audio | //video | //object | //embed"
)


def _drop_inert(tree: HtmlElement) -> None:
    """Remove what no extractor reads (scripts but JSON-LD, styles, SVG, comments)
    and what trafilatura's cleaning drops anyway (navigation and menus, noscript,
    iframes, form controls, media players), keeping each removed node's tail text.

    trafilatura's regex XPaths and its tree copies then run over a smaller tree
    (HTML pages parse about 10% faster on the development set), and its tag search
    no longer reads a site menu's links as the article's tags. ``input`` elements
    stay: htmldate reads publication dates from hidden inputs."""
    for el in _INERT(tree):
        if el.getparent() is not None:
            el.drop_tree()  # lxml.html: removes the element, keeps its tail text


def _split_body_paragraphs(tree: HtmlElement, first_paragraph: str) -> list[str] | None:
    """Return the paragraphs of every sibling container of the one holding
    ``first_paragraph`` when the article is split over same-class containers."""
    probe = " ".join(first_paragraph.split())[:80]
    if len(probe) < 40:
        return None
    container = None
    for p in tree.iter("p"):
        if _text(p).startswith(probe[:60]):
            container = p.getparent()
            break
    if container is None:
        return None
    cls = container.get("class")
    if not cls:
        return None
    same = [el for el in tree.iter(container.tag) if el.get("class") == cls]
    if len(same) < 2:
        return None
    paragraphs: list[str] = []
    for el in same:
        for p in el.iter("p", "h2", "h3", "li", "blockquote"):
            if p.tag in ("li",) and p.getparent() is not None and p.getparent().tag not in ("ul", "ol"):
                continue
            text = _text(p)
            if text and (p.tag == "p" or word_count(text) >= 3):
                paragraphs.append(text)
    return paragraphs


def _figure(tree: HtmlElement) -> tuple[str | None, str | None]:
    """Return ``(caption, credit)`` of the article's first figure."""
    for fig in tree.xpath("//article//figure | //main//figure | //figure"):
        cap_el = fig.find(".//figcaption")
        if cap_el is None:
            continue
        credit = None
        for el in cap_el.xpath(
            './/*[contains(@class, "credit") or contains(@class, "copyright") or contains(@class, "source")]'
        ):
            credit = _text(el) or None
            break
        text = _text(cap_el)
        if credit and text.endswith(credit):
            text = text[: -len(credit)].strip()
        caption = text.strip() or None
        if caption and word_count(caption) >= 3:
            return caption, credit
    return None, None


def _related(tree: HtmlElement, limit: int = 10) -> list[str]:
    """Return titles of in-article "read also" / related-article links."""
    out: list[str] = []
    xp = '//*[contains(@class, "related") or contains(@class, "read-also") or contains(@class, "see-also")]//a'
    for a in tree.xpath(xp):
        text = _text(a)
        if word_count(text) >= 4 and text not in out and not is_furniture(text):
            out.append(text)
        if len(out) >= limit:
            break
    return out


def _clean_lines(text: str, titles: list[str | None], description: str | None) -> list[str]:
    """Return the body lines without repeats of the title or standfirst at
    the top and without furniture lines."""
    lines = [" ".join(l.split()) for l in text.split("\n")]
    lines = [l for l in lines if l]
    norm = lambda s: re.sub(r"\W+", " ", s or "").strip().lower()  # noqa: E731
    heads = {norm(t) for t in titles if t} - {""}
    ndesc = norm(description)
    # leading title / standfirst repeats (the first two lines only)
    for _ in range(2):
        if lines and (norm(lines[0]) in heads or (ndesc and norm(lines[0]) == ndesc)):
            lines.pop(0)
    return [l for l in lines if not is_furniture(l)]


def extract_html(text: str, url: str | None = None) -> Extracted:
    """Extract the article body and metadata from an HTML page.

    ``text`` is the decoded page; ``url`` the page URL if known. Returns
    :class:`~streams.parsing.extracted.Extracted` with ``body == ""`` when no article text was found
    (the caller turns that into a rejection). Never raises on bad markup.
    """
    # imported here, not at the top: trafilatura costs 0.37 s and 36 MB at
    # import (measured) that plain-text parsing and `newsstream parse` of
    # text files never need
    from trafilatura import bare_extraction  # noqa: PLC0415
    from trafilatura.utils import load_html  # noqa: PLC0415

    tree = load_html(text)
    if tree is None:
        return Extracted(body="")
    _neutralise_paywall(tree)
    _drop_inert(tree)
    # a Document: bare_extraction returns a dict only when asked to (as_dict=True)
    doc = cast("Document | None", bare_extraction(tree, url=url, with_metadata=True, **_EXTRACT_OPTIONS))
    if doc is None or word_count(doc.text or "") < _RETRY_BELOW_WORDS:
        # the fast path found little: let trafilatura compare with its
        # readability and jusText fallbacks (3x slower, so only here)
        # (the metadata, read from the same tree, is the fast path's: not read again)
        options = {**_EXTRACT_OPTIONS, "fast": False}
        retry = cast("Document | None", bare_extraction(tree, url=url, with_metadata=doc is None, **options))
        if retry is not None and (doc is None or word_count(retry.text or "") > word_count(doc.text or "")):
            if doc is not None:
                doc.text = retry.text
            else:
                doc = retry
    if doc is None:
        return Extracted(body="", lang_hint=tree.get("lang"))
    body_text = doc.text or ""
    paragraphs = [l for l in body_text.split("\n") if l.strip()]
    if paragraphs:
        split = _split_body_paragraphs(tree, paragraphs[0])
        if split and word_count(" ".join(split)) > 1.2 * word_count(body_text):
            body_text = "\n".join(split)
    publisher = doc.sitename or None
    title = clean_title(doc.title, publisher)
    lines = _clean_lines(body_text, [doc.title, title], doc.description)
    caption, credit = _figure(tree)
    tags: list[str] = []
    for tag in (doc.tags or []) + (doc.categories or []):
        for part in tag.split(",") if tag.count(",") >= 2 else [tag]:
            cased = tag_case(part)
            if cased and cased not in tags and len(cased) < 60:
                tags.append(cased)
    lang = tree.get("lang") or tree.get("xml:lang")
    if not lang:
        metas = tree.xpath('//meta[@http-equiv="content-language" or @property="og:locale"]/@content')
        lang = metas[0] if metas else None
    canon = doc.url if doc.url and re.match(r"https?://", doc.url) else None
    return Extracted(
        body="\n\n".join(lines),
        title=title,
        authors=clean_authors(doc.author),
        publisher=publisher,
        published_at=normalise_date(doc.date),
        canonical_url=canon,
        image_caption=caption,
        image_credit=credit,
        related=_related(tree),
        tags=tags,
        lang_hint=lang,
    )
