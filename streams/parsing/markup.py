"""Loading an HTML page into a tree whose size and depth keep extraction bounded.

A page is input: it may be nested 50,000 elements deep, or hold 100,000
elements. Two limits of the libraries under the HTML extractor shape what
is done here:

* libxml2 stops parsing at 256 levels of nesting ("Excessive depth in
  document", 2,048 with ``huge_tree``) and keeps only what it read until then:
  a page nested deeper lost its whole text. :func:`load_tree` then reads the
  page again with the elements below :data:`MAX_NESTING` levels unwrapped
  (their text kept, paragraph breaks kept), see :func:`flatten`.
* libxml2 merges XPath node-sets with a duplicate check against every node
  already in the set, so a union (``//a | //b``) or a nested step
  (``//p//text()``) costs the product of the sets' sizes: measured with
  lxml 6.1.3 (libxml2 2.14.6), ``//button | //select | //nav`` took 31 s on a
  page of 12,000 of each, and trafilatura's ``//p//text()`` 25 s on 24,000
  paragraphs holding a link each. trafilatura evaluates dozens of such
  expressions, and also costs about 0.15 ms an element where it is linear. A
  page of more than :data:`MAX_ELEMENTS` elements (after scripts, styles,
  SVG, navigation and form controls are dropped), or of more than
  :data:`MAX_TEXT_CHARS` characters of text, is therefore not given to
  trafilatura: :func:`page_text` turns it into plain page text (one line a
  block) for the plain-text extractor, and :func:`head_metadata` reads title,
  canonical link, language, authors and date from the head. The limits are
  several times what the development set's pages need (at most 1,587
  elements, median 678; at most 205 paragraphs).

Everything here is linear in the page: single-step XPaths or tree iteration,
and tail text re-attached once per receiving node (:func:`drop_keeping_tails`)
rather than appended one dropped element at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import islice

from lxml.html import HtmlElement

from streams.parsing.dates import normalise_date
from streams.parsing.exceptions import ParseRejected
from streams.parsing.extracted import Extracted
from streams.parsing.metadata import clean_authors, clean_title
from streams.parsing.text import extract_text

MAX_NESTING = 128  # levels of elements kept when a page is too deep for libxml2 (its limit: 256)
MAX_ELEMENTS = 5000  # elements given to trafilatura (development set: at most 1,587)
MAX_TEXT_CHARS = 1_000_000  # characters of text given to trafilatura (about 150,000 words)

# Tags libxml2's HTML parser never nests (its empty elements; HTML5's embed,
# source, track and wbr are not among them: 400 of them in a row nest 400
# deep), and the block tags kept below the nesting limit: the parser closes an
# open p or li when the next one starts (measured: it nests dt, dd and
# headings), so keeping them adds no depth and keeps paragraph breaks.
_VOID = frozenset("area base basefont br col frame hr img input isindex link meta param".split())
_KEPT_BELOW_LIMIT = frozenset("p li".split())
# A start or end tag. Quoted attribute values may hold ">" but never "<" here,
# so a match never runs past the next "<": each "<" is tried once and the scan
# is linear in the page. A tag this misses is left in the text as it was.
_TAG = re.compile(r"""<(/?)([A-Za-z][A-Za-z0-9:_-]*)((?:[^<>"']|"[^"<]*"|'[^'<]*')*)>""")
_TOO_DEEP = "Excessive depth"


def flatten(text: str, max_nesting: int = MAX_NESTING, keep_blocks: bool = True) -> str:
    """Return the page ``text`` with start and end tags below ``max_nesting`` levels removed.

    A removed tag becomes a space; empty elements (and, with ``keep_blocks``,
    p and li, which the HTML parser never nests in themselves) are kept at
    any depth. Nesting is counted as the parser
    would, approximately: an end tag closes the nearest open element of its
    name and everything opened inside it; a stray end tag is left alone.
    Linear in ``len(text)``.
    """
    out: list[str] = []
    pos = 0
    stack: list[tuple[str, bool]] = []  # open elements: (name, kept)
    where: dict[str, list[int]] = {}  # name -> indexes into stack, innermost last
    kept_depth = 0
    for m in _TAG.finditer(text):
        closing, name, attrs = m.group(1), m.group(2).lower(), m.group(3)
        if name in _VOID or (keep_blocks and name in _KEPT_BELOW_LIMIT) or attrs.rstrip().endswith("/"):
            continue
        if not closing:
            keep = kept_depth < max_nesting
            where.setdefault(name, []).append(len(stack))
            stack.append((name, keep))
            kept_depth += keep
            if keep:
                continue
        else:
            open_at = where.get(name)
            if not open_at:
                continue  # a stray end tag: the parser ignores it
            index = open_at[-1]
            keep = stack[index][1]
            while len(stack) > index:  # close it and what was opened inside it
                inner, inner_kept = stack.pop()
                where[inner].pop()
                kept_depth -= inner_kept
            if keep:
                continue
        out.append(text[pos : m.start()])
        out.append(" ")
        pos = m.end()
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _hit_depth_limit(parser) -> bool:
    return any(_TOO_DEEP in (e.message or "") for e in parser.error_log)


def load_tree(text: str) -> HtmlElement | None:
    """Parse a page with trafilatura's loader; a page nested deeper than libxml2
    reads is parsed again flattened (:func:`flatten`).

    Returns None when trafilatura does not read the text as HTML.

    Raises:
        ParseRejected: ``"markup nested too deeply"``: even the page with
            every tag below 64 levels removed is too deep for libxml2 (tags
            this module's tokeniser cannot see, such as ``<div a="<">``).
    """
    # trafilatura costs 0.4 s at import, which plain-text parsing never needs
    from trafilatura.utils import HTML_PARSER, load_html  # noqa: PLC0415

    tree = load_html(text)
    if not _hit_depth_limit(HTML_PARSER):
        return tree
    tree = load_html(flatten(text))
    if not _hit_depth_limit(HTML_PARSER):
        return tree
    tree = load_html(flatten(text, 64, keep_blocks=False))
    if _hit_depth_limit(HTML_PARSER):
        raise ParseRejected("markup nested too deeply", "more than 256 levels of elements, even flattened")
    return tree


def drop_keeping_tails(elements: Iterable[HtmlElement]) -> None:
    """Remove ``elements`` from their tree, keeping the text that follows each one.

    The text after a removed element goes to the nearest kept element before
    it among its siblings (as its tail), or to the parent's text, as
    ``lxml.html``'s ``drop_tree`` does; but each receiving node is written
    once, so removing many consecutive siblings is linear (``drop_tree``
    appends to the same growing string once per removed element). Elements
    inside another removed element go with it.
    """
    doomed = list(elements)
    if not doomed:
        return
    ids = {id(el) for el in doomed}
    parents: dict[int, HtmlElement] = {}
    for el in doomed:
        parent = el.getparent()
        if parent is not None:
            parents.setdefault(id(parent), parent)
    for parent in parents.values():
        receiver: HtmlElement | None = None  # None: the parent's own text
        pending: list[str] = []
        for child in list(parent):
            if id(child) in ids:
                if child.tail:
                    pending.append(child.tail)
                child.tail = None
                parent.remove(child)
            else:
                _reattach(parent, receiver, pending)
                receiver = child
        _reattach(parent, receiver, pending)
    # keep the proxies (and so the ids) alive until here
    del doomed


def _reattach(parent: HtmlElement, receiver: HtmlElement | None, pending: list[str]) -> None:
    """Append the ``pending`` tails to ``receiver``'s tail (to ``parent.text`` when None), once."""
    if not pending:
        return
    joined = "".join(pending)
    if receiver is None:
        parent.text = (parent.text or "") + joined
    else:
        receiver.tail = (receiver.tail or "") + joined
    pending.clear()


def too_large(tree: HtmlElement) -> str | None:
    """Return why ``tree`` is too large for trafilatura (see the module's notes), or None."""
    n = sum(1 for _ in islice(tree.iter(), MAX_ELEMENTS + 1))
    if n > MAX_ELEMENTS:
        return f"more than {MAX_ELEMENTS} elements"
    chars = len(tree.text_content())
    if chars > MAX_TEXT_CHARS:
        return f"{chars} characters of text, more than {MAX_TEXT_CHARS}"
    return None


# Elements that end a line of page text (the rest are inline: their text runs on).
_BLOCKS = frozenset(
    """address article aside blockquote body br caption dd details dialog div dl dt fieldset figcaption figure
    footer form h1 h2 h3 h4 h5 h6 header hr html li main ol p pre section summary table tbody td tfoot th thead
    title tr ul""".split()
)


def page_text(tree: HtmlElement) -> str:
    """Return the text of a page, one line per block element (paragraph, heading,
    list item, table cell, div ...), as a browser's copy of the page reads.

    The head is left out. Linear in the tree (one walk with an explicit
    stack, so any depth; one join).
    """
    parts: list[str] = []
    body = tree.find("body")
    root = body if body is not None else tree
    stack: list[tuple[HtmlElement, bool]] = [(root, False)]
    while stack:
        el, closing = stack.pop()
        block = isinstance(el.tag, str) and el.tag in _BLOCKS
        if closing:
            if block:
                parts.append("\n")
            if el.tail and el is not root:
                parts.append(el.tail)
            continue
        if block:
            parts.append("\n")
        if el.text and isinstance(el.tag, str):  # a comment's text is not page text
            parts.append(el.text)
        stack.append((el, True))
        stack.extend((child, False) for child in reversed(el))
    return "".join(parts)


_HEAD_FIELDS = {  # field: (tag, attribute naming it, names in order of preference, attribute holding the value)
    "title": ("meta", ("property", "name"), ("og:title", "twitter:title"), "content"),
    "canonical": ("link", ("rel",), ("canonical",), "href"),
    "og_url": ("meta", ("property",), ("og:url",), "content"),
    "author": ("meta", ("name", "property"), ("author", "article:author"), "content"),
    "date": (
        "meta",
        ("property", "name", "itemprop"),
        ("article:published_time", "datepublished", "date", "pubdate", "publish-date"),
        "content",
    ),
    "publisher": ("meta", ("property",), ("og:site_name",), "content"),
    "description": ("meta", ("name", "property"), ("description", "og:description"), "content"),
}


def head_metadata(tree: HtmlElement) -> dict[str, str | None]:
    """Return ``title``, ``canonical``, ``lang``, ``author``, ``date``,
    ``publisher`` and ``description`` as the page declares them (Open Graph,
    ``<title>``, ``<link rel="canonical">``, ``article:published_time`` ...),
    each a string or None. One walk over the meta, link and title elements.
    """
    found: dict[str, tuple[int, str]] = {}  # field -> (rank of the name, value)
    title_text = None
    for el in tree.iter("meta", "link", "title"):
        if el.tag == "title":
            if title_text is None:
                title_text = " ".join((el.text or "").split()) or None
            continue
        for field, (tag, keys, names, value_attr) in _HEAD_FIELDS.items():
            if el.tag != tag:
                continue
            declared = " ".join((el.get(k) or "").lower() for k in keys).split()
            for rank, name in enumerate(names):
                if name in declared and (field not in found or rank < found[field][0]):
                    value = " ".join((el.get(value_attr) or "").split())
                    if value:
                        found[field] = (rank, value)
    chosen = {field: v for field, (_, v) in found.items()}
    return {
        "title": chosen.get("title") or title_text,
        "canonical": chosen.get("canonical") or chosen.get("og_url"),
        "lang": tree.get("lang") or tree.get("xml:lang"),
        "author": chosen.get("author"),
        "date": chosen.get("date"),
        "publisher": chosen.get("publisher"),
        "description": chosen.get("description"),
    }


def extract_large(tree: HtmlElement) -> Extracted:
    """Extract a page too large for trafilatura (:func:`too_large`): the
    plain-text extractor on :func:`page_text`, with the head's metadata where
    the page declares it. Linear in the page."""
    found = extract_text(page_text(tree))
    head = head_metadata(tree)
    canonical = head["canonical"]
    return Extracted(
        body=found.body,
        title=clean_title(head["title"], head["publisher"]) or found.title,
        authors=clean_authors(head["author"]) or found.authors,
        publisher=head["publisher"] or found.publisher,
        published_at=normalise_date(head["date"]) or found.published_at,
        canonical_url=canonical if canonical and re.match(r"https?://", canonical, re.IGNORECASE) else None,
        image_caption=found.image_caption,
        image_credit=found.image_credit,
        related=found.related,
        tags=found.tags,
        lang_hint=head["lang"],
    )
