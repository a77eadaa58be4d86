"""Which URL names an article: the source of its id.

An article's id is the stable id of one URL (or of its text when no URL is
known), so whoever chooses that URL chooses which document in the index the
article replaces. Two rules keep a page from taking another article's place
(issue 20); the normalisation that makes the same article merge (``/a`` and
``/a/``, query order, http and https) is :func:`streams.parsing.words.canonical_url`'s,
applied to whichever URL these rules pick.

1. **A canonical link is trusted only within the page's own site**: the link
   and the page's own URL must have the same registrable domain (the domain
   a registrant controls, by the Public Suffix List: ``news.bbc.co.uk`` and
   ``www.bbc.co.uk`` share ``bbc.co.uk``; ``alice.github.io`` and
   ``bob.github.io`` do not). Otherwise the page's own URL stands. A page
   with no URL of its own cannot show that its canonical link is its own:
   its id is made from that link in a space of its own (``claimed:`` and the
   link's key, :func:`streams.parsing.core.parse`), so it never takes the
   place of the article at that link, while copies claiming two links (a
   story syndicated on two sites) stay two articles.
2. **A fragment is part of the identity unless it names a place in the page.**
   A fragment never reaches the server: ``/a#x`` and ``/a#y`` fetch the same
   document, and when ``x`` is an anchor of that document (an element with
   ``id="x"`` or ``<a name="x">``) the URL names the document, so the
   fragment is dropped and ``/a#x`` is ``/a``. Any other fragment
   (``#!/story/12``, ``#/article/5``, an anchor the page does not have) is
   read by the page's own scripts to choose what to show, so different texts
   can live there: it stays in the identity, and the page's canonical link,
   which names the shell rather than what the fragment selected, is not used.

Consequence: different texts at URLs differing only in a fragment never share
an id, except when each page really has the anchor its fragment names (the
same document read at two places, where a newer text replacing an older one
is what a re-fetch of ``/a`` does too).

The registrable domain comes from ``tld`` (a maintained Public Suffix List
reader, already installed with trafilatura's ``courlan``), which ships the
list with the package: no network. Hosts that have no registrable domain (IP
addresses, ``localhost``, names under suffixes not on the list such as
``.test``) are the same site only when they are the same host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tld import get_fld

from streams.parsing.words import canonical_url


def _host(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def registrable_domain(url: str) -> str | None:
    """Return the registrable domain of ``url``'s host (``www.bbc.co.uk`` ->
    ``bbc.co.uk``), or None for an IP address, ``localhost`` or a name under
    no public suffix."""
    host = _host(url)
    if host is None:
        return None
    try:
        return get_fld(host, fix_protocol=True, fail_silently=True)
    except Exception:  # tld raises on some malformed names despite fail_silently
        return None


def same_site(url: str, other: str) -> bool:
    """Whether two URLs' hosts have the same registrable domain (the same host
    when either has none)."""
    a, b = registrable_domain(url), registrable_domain(other)
    if a is not None and b is not None:
        return a == b
    return a is None and b is None and _host(url) is not None and _host(url) == _host(other)


def fragment_of(url: str | None) -> str:
    """Return the fragment of ``url`` (``""`` when it has none)."""
    if not url:
        return ""
    try:
        return urlsplit(url.strip()).fragment
    except ValueError:
        return ""


def identity_url(page_url: str | None, canonical_link: str | None, fragment_is_anchor: bool = False) -> str | None:
    """Return the URL an article's id is made from, or None (then the id is its text's).

    ``page_url`` is where the page was fetched (the envelope's or header's
    ``url``); ``canonical_link`` what the page declares (``<link
    rel="canonical">``); ``fragment_is_anchor`` whether the page has an element
    that the page URL's fragment names. See the module's rules.
    """
    page = canonical_url(page_url)
    if page is None:
        return None
    fragment = fragment_of(page_url)
    if fragment and not fragment_is_anchor:
        return f"{page}#{fragment}"
    link = canonical_url(canonical_link)
    if link is not None and same_site(link, page):
        return link
    return page
