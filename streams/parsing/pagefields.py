"""The fields of an HTML page besides its body and headline: figure caption and
credit, related-article titles, tags (:func:`streams.parsing.html.extract_html`).

Every walk here is linear in the page: libxml2 evaluates XPath unions and
nested ``//a//b`` steps in time the product of their node-sets' sizes, so the
selections are written as one walk of each outermost box, and text is read up
to a limit (see :mod:`streams.parsing.markup`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from lxml import etree
from lxml.html import HtmlElement

from streams.parsing.furniture import is_furniture
from streams.parsing.metadata import tag_case
from streams.parsing.words import word_count


def text_of(el: HtmlElement) -> str:
    return " ".join(el.text_content().split())


def short_text(el: HtmlElement, limit: int = 1000) -> str | None:
    """``el``'s text, whitespace collapsed, or None when it holds more than
    ``limit`` characters. Reads at most about ``limit`` characters: a headline,
    a link or a caption nested inside hundreds of its like would otherwise cost
    the page's whole text once per level."""
    parts: list[str] = []
    size = 0
    for piece in el.itertext():
        parts.append(piece)
        size += len(piece)
        if size > limit:
            return None
    return " ".join("".join(parts).split())


def outermost(elements: Iterable[HtmlElement]) -> Iterator[HtmlElement]:
    """Of ``elements`` in document order, those not inside another one yielded
    (an element inside another follows it directly in document order)."""
    walked = None
    for el in elements:
        if walked is not None and any(anc is walked for anc in el.iterancestors()):
            continue
        walked = el
        yield el


def figure(tree: HtmlElement) -> tuple[str | None, str | None]:
    """Return ``(caption, credit)`` of the article's first figure."""
    # every figure in document order (what the union of //article//figure,
    # //main//figure and //figure selected, without libxml2's quadratic union);
    # each caption read once, though nested figures all find the innermost one
    read: set[HtmlElement] = set()
    for fig in tree.iter("figure"):
        cap_el = fig.find(".//figcaption")
        if cap_el is None or cap_el in read:
            continue
        read.add(cap_el)
        credit = None
        for el in cap_el.xpath(
            './/*[contains(@class, "credit") or contains(@class, "copyright") or contains(@class, "source")]'
        ):
            credit = text_of(el) or None
            break
        text = text_of(cap_el)
        if credit and text.endswith(credit):
            text = text[: -len(credit)].strip()
        caption = text.strip() or None
        if caption and word_count(caption) >= 3:
            return caption, credit
    return None, None


def related_titles(tree: HtmlElement, limit: int = 10) -> list[str]:
    """Return titles of in-article "read also" / related-article links."""
    out: list[str] = []
    for a in related_links(tree):
        text = short_text(a)
        if text and word_count(text) >= 4 and text not in out and not is_furniture(text):
            out.append(text)
        if len(out) >= limit:
            break
    return out


RELATED_BOX = etree.XPath(
    '//*[contains(@class, "related") or contains(@class, "read-also") or contains(@class, "see-also")]'
)


def related_links(tree: HtmlElement) -> Iterator[HtmlElement]:
    """Yield the links inside related-article boxes, once each, in document order,
    as ``//box//a`` selects them. That nested step costs libxml2 the product of
    the boxes and the links; here each outermost box is walked once."""
    for box in outermost(RELATED_BOX(tree)):
        for a in box.iter("a"):
            if a is not box:
                yield a


def page_tags(tree: HtmlElement, meta: Any) -> list[str]:
    """The article's own tags: meta keywords and ``article:tag`` (read by
    trafilatura), ``article:section`` and JSON-LD ``articleSection``, and tag
    links inside ``<article>``/``<main>``. Link lists elsewhere on the page are
    site navigation, never tags."""
    found: list[str] = [*(meta.tags or []), *(meta.categories or [])]
    found += tree.xpath('//meta[@property="article:section" or @name="article:section"]/@content')
    found += [text for a in tag_links(tree) if (text := short_text(a))]
    tags: list[str] = []
    seen: set[str] = set()  # a keywords meta can hold thousands: no quadratic "in list"
    for tag in found:
        for part in tag.split(","):
            cased = tag_case(part)
            if cased and cased not in seen and len(cased) < 60 and not is_furniture(cased):
                seen.add(cased)
                tags.append(cased)
    return tags


def tag_links(tree: HtmlElement) -> Iterator[HtmlElement]:
    """Yield, once each in document order, the links that
    ``(//article | //main)//*[contains(@class, "tag") or contains(@class, "topic")]//a[@href]
    | (//article | //main)//a[contains(concat(" ", @rel, " "), " tag ")]`` selects:
    links inside a tag box of an article or main element, and ``rel="tag"``
    links anywhere inside one. One walk of each outermost article or main
    element (libxml2 evaluates those unions and nested steps in time the
    product of their node-sets' sizes)."""
    for root in outermost(tree.iter("article", "main")):
        stack = [(child, False) for child in reversed(root)]
        while stack:
            el, in_box = stack.pop()
            if not isinstance(el.tag, str):
                continue
            if el.tag == "a" and ((in_box and el.get("href") is not None) or " tag " in f" {el.get('rel') or ''} "):
                yield el
            cls = el.get("class") or ""
            inner = in_box or "tag" in cls or "topic" in cls
            stack.extend((child, inner) for child in reversed(el))
