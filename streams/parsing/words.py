"""Words and ids: word counts, reading time, the normalised text an id is made from, canonical URLs."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

WORD = re.compile(r"\w+", re.UNICODE)
# a whitespace-separated token holding a word character: one match per such
# token. It starts only at a token's start (the lookbehind), and the run of
# non-word characters before its first word character can match one way only:
# the time is linear in the text. ``\S*\w\S*`` counted the same tokens, but on a
# run of punctuation it retried every start inside the run (quadratic:
# ``"[" * 32000`` took 13 s).
_TOKEN_WITH_WORD = re.compile(r"(?<!\S)[^\s\w]*\w\S*")
READING_WPM = 230  # words per minute, as records.ParsedArticle documents


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def word_count(text: str) -> int:
    """Count words: whitespace-separated tokens with a letter or digit, and
    for Chinese, Japanese and Korean (written without spaces) one word per
    two CJK characters."""
    n = len(_TOKEN_WITH_WORD.findall(text))
    cjk = len(_CJK.findall(text))
    return n + cjk // 2 if cjk else n


def reading_time(words: int) -> int:
    """Return reading minutes at 230 words/min, at least 1 for a non-empty text."""
    return max(1, round(words / READING_WPM)) if words else 0


def normalise_text(text: str) -> str:
    """Collapse whitespace and NFC-normalise (the text an id is made from)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def canonical_url(url: str | None) -> str | None:
    """Return ``url`` without fragment, default port, tracking query keys and
    trailing slash noise; None when it is not an http(s) URL (a page's
    canonical link is input: an unclosed ``[`` IPv6 host or a port over
    65535 is no URL, not an error)."""
    if not url:
        return None
    url = url.strip()
    if not re.match(r"https?://", url, re.IGNORECASE):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not re.match(r"(utm_|fbclid|gclid|mc_|ref$|cmpid|ocid)", k, re.IGNORECASE)
    ]
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


#: Host prefixes that serve the same pages as the bare host: the web, mobile and AMP editions of a site.
_EDITION_HOSTS = re.compile(r"^(?:www\d*|m|mobile|amp)\.")
#: Query keys that say how a page was reached or rendered, never which page it is (``cid`` is left out:
#: a campaign id on some sites, the content id on others).
_NOISE_KEYS = re.compile(
    r"^(?:utm_.*|fbclid|gclid|dclid|msclkid|yclid|mc_cid|mc_eid|_ga|_gl|igshid|ref|ref_src|cmpid|ocid|"
    r"amp|outputtype|output|share|smid|sr_share|at_medium|at_campaign)$",
    re.IGNORECASE,
)


def url_key(url: str | None) -> str | None:
    """Return the key an article's id is made from: one page, whatever road led to it.

    ``url`` is a canonical URL (:func:`canonical_url`). The key drops what
    tells the same page apart only by how it was reached: the scheme (http and
    https), the ``www.``, ``m.`` and ``amp.`` editions of the host, AMP markers
    in the path (a final ``/amp`` segment, an ``/amp/`` segment, ``.amp`` before
    the extension), ``?amp=1`` / ``?outputType=amp``, tracking keys, a
    trailing slash, and the order of the query's keys. What stays (host,
    path, the other query keys, a fragment :func:`canonical_url` kept) names
    the page. Examples: ``http://www.example.org/a/amp/?utm_source=x`` and
    ``https://example.org/a`` give ``example.org/a``. Returns None for a
    non-http(s) URL.
    """
    if not url or not re.match(r"https?://", url.strip(), re.IGNORECASE):
        return None
    parts = urlsplit(url.strip())
    host = _EDITION_HOSTS.sub("", (parts.hostname or "").lower().rstrip("."))
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path or "/"
    path = re.sub(r"/amp(?=/|$)", "", path, flags=re.IGNORECASE)  # /a/amp, /amp/a, /a/amp/
    path = re.sub(r"\.amp(?=\.[a-z0-9]+$|$)", "", path, flags=re.IGNORECASE)  # /a.amp.html, /a.amp
    path = path.rstrip("/") or "/"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _NOISE_KEYS.match(k))
    key = host + path + (f"?{urlencode(query)}" if query else "")
    return key + (f"#{parts.fragment}" if parts.fragment else "")
