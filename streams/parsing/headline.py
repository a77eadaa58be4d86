"""The headline of an HTML page: the ``<h1>`` a reader sees, checked against the metadata titles.

A page declares its title in metadata (``og:title``, JSON-LD ``headline``,
``<title>``) and shows its headline in an ``<h1>``; they often differ (an SEO
title, a title written for social media, a site suffix). The title is the
headline the reader sees, since a text dump of the page (the plain-text mode)
holds that one and not the metadata:

1. the ``<h1>`` sharing the most words with a metadata title, at least half of
   its own words;
2. else, when no metadata title shows anywhere in the page's text, the first
   ``<h1>`` sharing a content word with one (the social-media title says the
   same story in other words: "MacBook sale at Amazon from $700" above an
   ``<h1>`` "Amazon discounts MacBooks from $700");
3. else the metadata title.

Never the site's name: an ``<h1>`` or a metadata title that is the site's name
(``og:site_name``, a part of the ``<title>`` beside a separator, as in
"Headline - Site"), or an ``<h1>`` inside or around a link to the site's home
page (the logo), is no candidate. Figures: ``bench/extraction.py`` (HTML
titles equal to ``og:title``, ``<title>`` or an ``<h1>``; text-mode agreement).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from streams.parsing.pagefields import short_text

_WORD = re.compile(r"\w+")
_SEPARATOR = re.compile(r"\s+[|–—-]\s+|\s*[|·»]\s*")
_HEAD_WORDS = (3, 40)  # an <h1> outside this many words is a label, a logo or a whole block


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _site_names(titles: list[str], sitename: str | None) -> set[str]:
    """Compact forms (words run together) of the site's names: ``sitename`` and
    the shorter parts of each title split at a separator ("Headline - Site")."""
    names = {"".join(_words(sitename))} if sitename else set()
    for title in titles:
        parts = [p for p in _SEPARATOR.split(title) if _words(p)]
        if len(parts) > 1:
            longest = max(parts, key=lambda p: len(_words(p)))
            names.update("".join(_words(p)) for p in parts if p is not longest)
    return {n for n in names if n}


def _is_site(text: str, names: set[str], sitename: str | None) -> bool:
    """``text`` is one of the site's ``names``, or of four words at most and
    a short form of ``sitename`` ("MacRumors" for "MacRumors.com"; not a
    longer text holding it: "Trump blasts CNN" is a headline)."""
    words = _words(text)
    compact, site = "".join(words), "".join(_words(sitename or ""))
    if compact in names:
        return True
    return len(words) <= 4 and len(compact) >= 4 and compact in site


def _home_link(h1: HtmlElement) -> bool:
    """The ``<h1>`` is inside or around a link to the site's home page (a logo)."""
    hrefs = [(a.get("href") or "").strip() for a in (*h1.iterancestors("a"), *h1.iter("a"))]
    return any(h and h[0] not in "#?" and urlsplit(h).path in ("", "/") for h in hrefs)


def _visible(title: str, tree: HtmlElement, names: set[str]) -> bool:
    """The title's words, in order (less a site suffix), show in the page's text."""
    body = tree.find("body")
    page = " ".join(_words(body.text_content() if body is not None else ""))
    parts = [p for p in _SEPARATOR.split(title) if _words(p) and "".join(_words(p)) not in names]
    return any(" ".join(_words(p)) in page for p in parts or [title])


def headline(tree: HtmlElement, meta_title: str | None, sitename: str | None) -> str | None:
    """The page's headline (see the module's docstring); ``meta_title`` is the
    title trafilatura's metadata steps found, ``sitename`` the site's name;
    None when the page has neither an ``<h1>`` nor a title."""
    found = [
        meta_title,
        *tree.xpath('//meta[@property="og:title" or @name="twitter:title"]/@content'),
        tree.findtext(".//title"),
    ]
    # at most 10, of at most 2,000 characters: a hostile page may declare thousands, each
    # then looked for in the page's whole text
    titles = list(dict.fromkeys(" ".join(t.split())[:2000] for t in found if t and t.strip()))[:10]
    names = _site_names(titles, sitename)
    heads = []
    for h1 in tree.iter("h1"):
        text = short_text(h1)
        if text is None:  # a whole block, not a headline (and h1s nested in h1s would cost a read each)
            continue
        if _home_link(h1):
            names.add("".join(_words(text)))  # the logo: trafilatura takes a page's only <h1> for its title
        elif _HEAD_WORDS[0] <= len(_words(text)) <= _HEAD_WORDS[1] and not _is_site(text, names, sitename):
            heads.append(text)
    titles = [t for t in titles if not _is_site(t, names, sitename)]
    wanted = [set(_words(t)) for t in titles]
    best, best_shared = None, 0.0
    for text in heads:
        words = _words(text)
        shared = max((sum(1 for w in words if w in w_set) / len(words) for w_set in wanted), default=0.0)
        if shared >= 0.5 and shared > best_shared:
            best, best_shared = text, shared
    if best:
        return best
    if titles and heads and not any(_visible(t, tree, names) for t in titles):
        content = set().union(*wanted) - {w for w in set().union(*wanted) if len(w) < 4 and not w.isdigit()}
        for text in heads:
            if content & set(_words(text)):
                return text
    return titles[0] if titles else meta_title
