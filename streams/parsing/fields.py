"""Shared field rules of the parse stage: decoding, sniffing, dates, bylines,
titles, tags, language, word counts and the page-furniture phrase rules.

Everything here is pure and cheap: regular expressions and small word lists,
no I/O, no model. The HTML and plain-text extractors both use these rules so a
line of furniture is recognised the same way whatever the input was.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from streams.parsing.exceptions import ParseRejected


@dataclass
class Extracted:
    """What an extractor (HTML or text) found in a page.

    ``body`` has paragraphs separated by a blank line (``""`` when nothing
    was found); ``published_at`` is ISO 8601; ``tags`` are the site's own
    topic tags in title case; ``lang_hint`` a declared language (``"en-GB"``).
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


# --------------------------------------------------------------------------
# decoding and sniffing

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.\-]+)""", re.IGNORECASE)
# Bytes that never occur in text in any charset we accept (C0 controls but
# tab, newline, carriage return, form feed and escape).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")


def _codec(name: str) -> str | None:
    """Return the Python codec name for a charset label, or None if unknown."""
    label = name.strip().lower()
    # WHATWG: pages labelled latin-1/ascii are decoded as windows-1252.
    if label in ("iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"):
        label = "windows-1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_bytes(data: bytes, is_html: bool | None = None) -> tuple[str, str]:
    """Decode page bytes to text; return ``(text, charset)``.

    The charset comes, in order, from a byte-order mark, an HTML
    ``<meta charset>`` / ``http-equiv`` or XML declaration in the first 4 KiB
    (when ``is_html`` is not False), strict UTF-8, and finally
    charset-normalizer's detection.

    Raises:
        ParseRejected: ``"empty input"`` (no bytes or only whitespace),
            ``"binary input"`` (NUL or other control bytes, e.g. an image or
            a zip file) or ``"undecodable input"`` (no charset decodes it).
    """
    if not data or not data.strip():
        raise ParseRejected("empty input", "the content has no bytes")
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(name), name
            except UnicodeDecodeError as exc:
                raise ParseRejected("undecodable input", f"BOM says {name}: {exc}") from exc
    head = data[:4096]
    if _CONTROL.search(head) or b"\x00" in data:
        raise ParseRejected("binary input", "control or NUL bytes in the content")
    utf8: str | None
    try:
        utf8 = data.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = None
    if is_html is not False:
        match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
        if match:
            name = _codec(match.group(1).decode("ascii", "ignore"))
            # valid multi-byte UTF-8 outweighs a single-byte declaration (a
            # template that says latin-1 around a UTF-8 CMS body)
            if name and not (utf8 is not None and not data.isascii() and _single_byte(name)):
                try:
                    return data.decode(name), name
                except UnicodeDecodeError:
                    pass  # the declaration lies: fall through to detection
    if utf8 is not None:
        return utf8, "utf-8"
    from charset_normalizer import from_bytes  # imported lazily: only for legacy pages

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise ParseRejected("undecodable input", "no charset decodes the bytes")
    # Western pages: windows-1252 when it reads as well as the detector's pick
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= best.chaos + 0.01:
            best = match
            break
    text = str(best)
    if _too_many_controls(text):
        raise ParseRejected("binary input", "decoded text is mostly control characters")
    return text, best.encoding


def _single_byte(codec: str) -> bool:
    return codec.startswith(("cp12", "iso8859", "latin", "ascii", "koi8", "mac-", "cp8"))


def _too_many_controls(text: str) -> bool:
    sample = text[:20000]
    bad = sum(1 for ch in sample if unicodedata.category(ch) in ("Cc", "Co", "Cs") and ch not in "\t\n\r\f")
    return bad > max(2, len(sample) // 100)


_HTML_SNIFF = re.compile(
    r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<meta\s|<title>|<div[\s>]|<p>|<article[\s>]",
    re.IGNORECASE,
)


def sniff_content_type(text: str) -> str:
    """Return ``"html"`` when the first 4 KB of ``text`` look like markup, else ``"text"``."""
    head = text[:4096]
    if head.lstrip()[:1] == "<" and _HTML_SNIFF.search(head):
        return "html"
    return "html" if len(_HTML_SNIFF.findall(head)) >= 3 else "text"


# --------------------------------------------------------------------------
# words, ids

WORD = re.compile(r"\w+", re.UNICODE)
# a whitespace-separated token holding a word character: one match per such
# token (the leading \S* cannot cross whitespace, the trailing one eats the rest)
_TOKEN_WITH_WORD = re.compile(r"\S*\w\S*")
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
    trailing slash noise; None when it is not an http(s) URL."""
    if not url:
        return None
    url = url.strip()
    if not re.match(r"https?://", url, re.IGNORECASE):
        return None
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not re.match(r"(utm_|fbclid|gclid|mc_|ref$|cmpid|ocid)", k, re.IGNORECASE)
    ]
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


# --------------------------------------------------------------------------
# page furniture: lines that are navigation, calls to action, widgets

_FURNITURE_WHOLE = re.compile(
    r"""^(?:
      advertisement|advertising|advert|ad|ads|sponsored(?:\s+content)?|promoted(?:\s+content)?|
      scroll\s+to\s+continue(?:\s+with\s+content)?|continue\s+reading(?:\s+below)?|story\s+continues\s+below|
      read\s+(?:more|also|next|the\s+full\s+(?:story|article))|also\s+read|see\s+also|more\s+on\s+this(?:\s+story)?|
      related(?:\s+(?:articles?|stories|news|content|posts?|topics|coverage|links?))?|
      recommended(?:\s+for\s+you)?|most\s+(?:popular|read|viewed|shared)(?:\s+\w+)?|trending(?:\s+now|\s+stories)?|
      you\s+(?:may|might)\s+also\s+like|more\s+(?:stories|news|videos?|from\s+.{1,40})|latest(?:\s+news|\s+stories)?|
      top\s+stories|editor'?s\s+picks?|don'?t\s+miss|watch(?:\s+now|\s+more|\s+live)?|video|play\s+video|
      share(?:\s+(?:this|on|via|article|story|the\s+article).{0,30})?|shares?|tweet|email|e-mail|print|copy(?:\s+link)?|
      facebook|twitter|linkedin|whatsapp|pinterest|reddit|telegram|flipboard|instagram|youtube|messenger|x|
      follow(?:\s+us)?(?:\s+on\s+.{1,30})?|subscribe(?:\s+now)?|i\s+subscribe|sign\s*(?:up|in)|log\s*(?:in|out)|register|
      newsletters?|get\s+the\s+app|download\s+the\s+app|
      \d+\s*(?:min|mins|minutes?)(?:\s+read)?|reading\s+time.{0,20}|
      comments?|\d+\s+comments?|leave\s+a\s+(?:comment|reply)|show\s+comments|view\s+comments|add\s+comment|
      back\s+to\s+top|skip\s+to\s+(?:main\s+)?content|menu|search|home|close|next|previous|prev|more|less|open|
      loading\.*|please\s+wait|click\s+here|listen(?:\s+to\s+(?:this\s+)?article)?|audio|photos?|gallery|image|
      tags?|topics?|filed\s+under|categories|category|keywords|
      cookies?|accept(?:\s+all)?(?:\s+cookies)?|reject(?:\s+all)?|ok|got\s+it|i\s+agree|
      updated?|published|posted|
      toggle.*|expand|collapse|view\s+all|see\s+all|show\s+more|load\s+more|
      more\s+in\s+[\w&' -]{1,30}|more\s+[\w&'-]{1,20}|
      (?:updated\s+)?(?:about\s+)?\d+\s*(?:s|m|h|d|w|sec|secs|mins?|hrs?|hours?|days?|weeks?|months?|years?)\s+ago|
      (?:just\s+now|yesterday|today)|sorry|thank\s+you|thanks|oops|print\s+article|order\s+reprints
    )\s*[:.!»›>→]*$""",
    re.IGNORECASE | re.VERBOSE,
)

_FURNITURE_PHRASE = re.compile(
    r"""(?:
      \bnewsletter\b|\bsubscribe\b|\bsubscription\b|\bsign\s+up\b|\bsign\s+in\b|\blog\s+in\b|
      \bcookies?\b|\bprivacy\s+(?:policy|notice|settings)\b|\bterms\s+(?:of|and)\s+(?:use|service|conditions)\b|
      \ball\s+rights\s+reserved\b|\bcopyright\b|©|
      \bfollow\s+(?:us|all\s+the|our)\b|\bdownload(?:ing)?\s+(?:the|our)\s+.{0,30}\b(?:app|application)\b|
      \bshare\s+(?:this|on|via)\b|\bshare\s+it\s+with\b|\bclick\s+here\b|\bread\s+more\b|\bread\s+also\b|\balso\s+read\b|
      \bjavascript\b|\bad\s*blocker\b|\bbrowser\b.{0,40}\b(?:support|update|enable)|
      \bmailbox\b|\binbox\b|\bsent\s+to\s+your\s+email\b|\bthanks\s+for\s+signing\s+up\b|
      \bno\s+comments?\b|\bcomments?\s+(?:are|have\s+been)\s+closed\b|\bwrite\s+to\s+.{1,60}\s+at\s+\S+@|
      ^\s*(?:text|words|photos?|images?|pictures?|video|illustrations?|graphics?)\s+by\s*:|
      ^\s*(?:by|from|with)\s+our\s+correspondents?\b|^\s*with\s+our\s+correspondent|
      \breprints?\b|\berror\s+(?:has\s+)?occurred\b|\bplease\s+try\s+again\b|\bhas\s+been\s+sent\s+to\b|
      ^\s*also\s+on\s+\S+\.[a-z]{2,4}\b|\blike\s+this\s+(?:story|article)\b|^\s*join\s+(?:our|the)\s+free\b|\border\s+(?:presentation|reprints)|\bthis\s+copy\s+is\s+for\s+your\s+personal\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)

# Every alternative of _FURNITURE_PHRASE contains one of these (lower case).
# Checking them with ``in`` on the lower-cased line first is 4x cheaper than
# the regex search (about 2.5 us against 32 us a line; 85% of the lines of the
# development set's text pages contain none): the regex then runs only where
# it can match. tests/parsing checks that both agree on every line of the set.
_PHRASE_KEYS = (
    "newsletter",
    "subscri",
    "sign",
    "log",
    "cookie",
    "privacy",
    "terms",
    "rights",
    "copyright",
    "©",
    "follow",
    "download",
    "share",
    "click",
    "read",
    "javascript",
    "blocker",
    "browser",
    "mailbox",
    "inbox",
    "sent",
    "comment",
    "write",
    "by",
    "correspondent",
    "reprint",
    "error",
    "try again",
    "also",
    "like this",
    "join",
    "order",
    "personal",
)


def _phrase_furniture(text: str) -> bool:
    low = text.lower()
    return any(k in low for k in _PHRASE_KEYS) and bool(_FURNITURE_PHRASE.search(text))


# Unambiguous furniture whatever the length of the line (cookie banners are long).
_FURNITURE_STRONG = re.compile(
    r"""(?:\b(?:this|our)\s+(?:web\s*site|site)\s+uses\s+cookies\b|\bwe\s+use\s+cookies\b|\bcookies?\s+(?:policy|settings|preferences)\b|
      \ball\s+rights\s+reserved\b|\benable\s+javascript\b|\bjavascript\s+(?:is\s+)?(?:disabled|required)\b|
      \bby\s+continuing\s+to\s+(?:use|browse)\b|\bare\s+(?:registered\s+)?trademarks\s+of\b|
      \bthe\s+information\s+(?:provided|contained)\s+(?:on|in)\s+this\s+(?:web\s*site|site)\b|
      \bnot\s+been\s+evaluated\s+by\s+the\s+food\s+and\s+drug\b)""",
    re.IGNORECASE | re.VERBOSE,
)

_SENTENCE_END = re.compile(r"""[.!?…:;"”’»)。！？」』）]\s*$""")


def is_furniture(line: str, words: int | None = None) -> bool:
    """Return True when a single line of page text is page furniture.

    Furniture is a navigation or widget label (``"Advertisement"``, ``"Read
    more"``, ``"Share on Twitter"``, ``"5 min read"``, ``"Newsletter"``) or a
    short call to action or legal line (``"Subscribe to our newsletter"``,
    ``"© 2023 …"``, ``"Text by: RFI"``). Long lines (more than 30 words) are
    never furniture by phrase: a sentence that mentions a newsletter is text.
    """
    stripped = line.strip().strip("•►▶·|*+-–—\u00a0 ")
    if not stripped:
        return True
    if _FURNITURE_WHOLE.match(stripped):
        return True
    n = words if words is not None else word_count(stripped)
    if n <= 30 and _phrase_furniture(stripped):
        return True
    return n <= 120 and bool(_FURNITURE_STRONG.search(stripped))


def looks_like_sentence(line: str) -> bool:
    """Return True when ``line`` reads as prose: several words and a sentence end."""
    return word_count(line) >= 6 and bool(_SENTENCE_END.search(line))


# --------------------------------------------------------------------------
# dates

_MONTHS = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
    # French, Spanish, Italian, Portuguese, German month names (the common ones)
    "janvier": 1,
    "février": 2,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "août": 8,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "décembre": 12,
    "enero": 1,
    "febrero": 2,
    "marzo": 3,
    "abril": 4,
    "mayo": 5,
    "junio": 6,
    "julio": 7,
    "agosto": 8,
    "septiembre": 9,
    "octubre": 10,
    "noviembre": 11,
    "diciembre": 12,
    "gennaio": 1,
    "febbraio": 2,
    "aprile": 4,
    "maggio": 5,
    "giugno": 6,
    "luglio": 7,
    "settembre": 9,
    "ottobre": 10,
    "dicembre": 12,
    "janeiro": 1,
    "fevereiro": 2,
    "março": 3,
    "maio": 5,
    "junho": 6,
    "julho": 7,
    "setembro": 9,
    "outubro": 10,
    "dezembro": 12,
    "januar": 1,
    "februar": 2,
    "märz": 3,
    "juni": 6,
    "juli": 7,
    "oktober": 10,
    "dezember": 12,
}
_MONTH_RE = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_DATE_PATTERNS = (
    # 2023-02-28, 2023-02-28T10:00:00Z
    (re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?(Z|[+-]\d\d:?\d\d)?)?\b"), "ymd"),
    # February 28, 2023 / Feb. 28 2023
    (re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+((?:19|20)\d\d)\b", re.IGNORECASE), "mdy"),
    # 28 February 2023 / 28 de fevereiro de 2023 / 28. Februar 2023
    (
        re.compile(
            rf"\b(\d{{1,2}})(?:st|nd|rd|th|er|\.)?\s+(?:de\s+)?({_MONTH_RE})\.?,?\s+(?:de\s+)?((?:19|20)\d\d)\b",
            re.IGNORECASE,
        ),
        "dmy",
    ),
    # 28/02/2023 is ambiguous with 02/28/2023: only when the day is > 12
    (re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.]((?:19|20)\d\d)\b"), "numeric"),
)


def find_date(text: str) -> str | None:
    """Return the first calendar date written in ``text`` as ``YYYY-MM-DD``.

    Understands ISO dates (with an optional time, then returned as ISO 8601
    date-time), ``February 28, 2023``, ``Feb. 28 2023``, ``28 February 2023``
    (English and the common Romance/German month names) and unambiguous
    ``dd/mm/yyyy``. Returns None when no valid date is found.
    """
    best: tuple[int, str] | None = None
    for pattern, kind in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            value = _date_from_match(m, kind)
            if value and (best is None or m.start() < best[0]):
                best = (m.start(), value)
                break
    return best[1] if best else None


def _date_from_match(m: re.Match, kind: str) -> str | None:
    try:
        if kind == "ymd":
            y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
            date(y, mo, d)
            if m.group(4):
                tz = m.group(7) or ""
                if tz and tz != "Z" and ":" not in tz:
                    tz = f"{tz[:3]}:{tz[3:]}"
                tz = "+00:00" if tz == "Z" else tz
                return f"{y:04d}-{mo:02d}-{d:02d}T{m.group(4)}:{m.group(5)}:{m.group(6) or '00'}{tz}"
            return f"{y:04d}-{mo:02d}-{d:02d}"
        if kind == "mdy":
            mo, d, y = _MONTHS[m.group(1).lower()], int(m.group(2)), int(m.group(3))
        elif kind == "dmy":
            d, mo, y = int(m.group(1)), _MONTHS[m.group(2).lower()], int(m.group(3))
        else:
            a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if a > 12 >= b:
                d, mo = a, b
            elif b > 12 >= a:
                d, mo = b, a
            else:
                return None
        return date(y, mo, d).isoformat()
    except (ValueError, KeyError):
        return None


def normalise_date(value: str | None) -> str | None:
    """Return an ISO 8601 date or date-time for a metadata date string, or None."""
    if not value:
        return None
    value = value.strip()
    m = re.match(r"^((?:19|20)\d\d-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d)?)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?)?$", value)
    if m:
        try:
            date.fromisoformat(m.group(1))
        except ValueError:
            return None
        if not m.group(2) or m.group(2) in ("00:00", "00:00:00"):
            return m.group(1)
        t = m.group(2) if m.group(2).count(":") == 2 else m.group(2) + ":00"
        tz = m.group(3) or ""
        tz = "+00:00" if tz == "Z" else (f"{tz[:3]}:{tz[3:]}" if tz and ":" not in tz else tz)
        return f"{m.group(1)}T{t}{tz}"
    return find_date(value)


# --------------------------------------------------------------------------
# bylines, titles, tags

_BYLINE = re.compile(
    r"^\s*(?:by|par|von|por|di|door|de|written\s+by|author:?|auteur\s*:?|text\s+by\s*:)\s+(?P<names>.{3,120}?)\s*$",
    re.IGNORECASE,
)
_NAME_TOKEN = re.compile(r"^(?:[A-ZÀ-ÖØ-Þ][\w'’.\-]*|van|von|de|der|den|du|da|di|del|la|le|al|bin|ibn|y)$")
_NAME_SPLIT = re.compile(r"\s*(?:,|\band\b|\bet\b|\bund\b|\by\b|\be\b|&|\|)\s*")


def looks_like_name(text: str) -> bool:
    """Return True when ``text`` reads as a person's name (2-5 capitalised words)."""
    words = text.strip().rstrip(".").split()
    if not 2 <= len(words) <= 5:
        return False
    if not all(_NAME_TOKEN.match(w) for w in words):
        return False
    return sum(1 for w in words if w[:1].isupper()) >= 2 and not any(w.isupper() and len(w) > 3 for w in words)


def split_names(text: str) -> list[str]:
    """Split a byline's names (``"A B, C D and E F"``) into a list of names."""
    text = re.sub(r"\s*[|/–—-]\s*.*$", "", text.strip())  # "Jane Doe | Reuters"
    names = [n.strip(" .,;") for n in _NAME_SPLIT.split(text)]
    return [n for n in names if n and looks_like_name(n)]


def byline_names(line: str) -> list[str]:
    """Return the names of a ``"By Jane Doe and John Roe"`` line, else ``[]``."""
    m = _BYLINE.match(line)
    return split_names(m.group("names")) if m else []


def clean_authors(value: str | list[str] | None) -> list[str]:
    """Normalise an author string (``"A; B"``) or list into distinct names."""
    if not value:
        return []
    items = value if isinstance(value, list) else re.split(r"\s*;\s*", value)
    out: list[str] = []
    for item in items:
        item = re.sub(r"^(?:by|par|von|por)\s+", "", item.strip(), flags=re.IGNORECASE).strip(" ,")
        if item and item not in out and len(item) < 80 and not re.search(r"https?://|@", item):
            out.append(item)
    return out


_SMALL_WORDS = {"a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or", "the", "to", "vs", "via"}


def tag_case(tag: str) -> str:
    """Return a site tag as a person writes it: ``"UNITED STATES"`` ->
    ``"United States"``, ``"climate change"`` -> ``"Climate Change"``; mixed
    case (``"iPhone"``, ``"NATO summit"``) is kept."""
    tag = " ".join(tag.split()).strip(" #,;")
    if not tag:
        return tag
    letters = [c for c in tag if c.isalpha()]
    if not letters:
        return tag
    if all(c.isupper() for c in letters) and (len(letters) > 4 or " " in tag):
        tag = tag.lower()
    elif not all(c.islower() for c in letters):
        return tag
    words = tag.split(" ")
    return " ".join(w if (i and w in _SMALL_WORDS) else w[:1].upper() + w[1:] for i, w in enumerate(words))


def clean_title(title: str | None, publisher: str | None = None) -> str | None:
    """Strip a trailing ``" | Site"`` / ``" - Site"`` suffix and whitespace from a title."""
    if not title:
        return None
    title = " ".join(title.split())
    parts = re.split(r"\s+[|–—-]\s+", title)
    if len(parts) > 1:
        tail = parts[-1]
        if (publisher and tail.lower().replace(" ", "") in publisher.lower().replace(" ", "")) or (
            len(tail.split()) <= 3 and len(" ".join(parts[:-1]).split()) >= 4
        ):
            title = " - ".join(parts[:-1]) if len(parts) > 2 else parts[0]
    return title or None


# --------------------------------------------------------------------------
# language

_STOPWORDS = {
    "en": "the of and to in is that for it on was with as are be this by at from have has not but an they his her which were you will said",
    "fr": "le la les de des et est un une du dans que qui pour pas sur au avec ce il elle sont par plus se ont été aux cette",
    "es": "el la los las de del y en que es un una por con para se su al lo como más pero sus fue ha son esta",
    "pt": "o a os as de do da dos das e em que é um uma para com não no na por se mais ao pelo pela foi são",
    "it": "il lo la i gli le di del della e è un una per con non che in si da al sono nel alla anche più",
    "de": "der die das und ist nicht ein eine zu den mit von sich des auf für im dem auch es sie wird wurde ich",
    "nl": "de het een en van is dat op te in niet zijn voor met die er aan ook om als door maar",
    "sv": "och att det som en är på av för med den till inte har om ett de var jag",
    "da": "og at det som en er på af for med den til ikke har om et de var jeg",
    "no": "og at det som en er på av for med den til ikke har om et de var jeg",
    "pl": "i w na z się nie do to że jest o jak po od za przez dla jako czy",
    "ru": "и в не на что я с он как это по но из к у за от же то все она так",
    "uk": "і в не на що я з він як це по але із до у за від же та все вона так",
    "tr": "ve bir bu da de için ile olarak çok daha gibi ne kadar olan en",
    "id": "dan yang di ini itu dengan untuk dari tidak ke dalam akan pada juga",
}
_STOPSETS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}


_SCRIPTS = {
    "ja": re.compile(r"[\u3040-\u30ff]"),
    "zh": re.compile(r"[\u4e00-\u9fff]"),
    "ko": re.compile(r"[\uac00-\ud7af]"),
    "ar": re.compile(r"[\u0600-\u06ff]"),
    "he": re.compile(r"[\u0590-\u05ff]"),
    "el": re.compile(r"[\u0370-\u03ff]"),
    "th": re.compile(r"[\u0e00-\u0e7f]"),
    "hi": re.compile(r"[\u0900-\u097f]"),
    "cyr": re.compile(r"[\u0400-\u04ff]"),
}
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


def detect_language(text: str, hint: str | None = None) -> str | None:
    """Guess the ISO 639-1 language of ``text``.

    Scripts decide first (Han/Kana -> zh/ja, Hangul -> ko, Arabic, Hebrew,
    Greek, Thai, Devanagari); otherwise the language whose stopwords are most
    frequent among the first 2,000 words wins if they are at least 8 % of the
    words. ``hint`` (e.g. an HTML ``lang`` attribute, ``"en-US"``) is used when
    the text is too short or ambiguous. Returns None without evidence.
    """
    hint_code = None
    if hint:
        m = re.match(r"^\s*([a-zA-Z]{2,3})(?:[-_]|$)", hint)
        if m:
            hint_code = m.group(1).lower()
            hint_code = {"nb": "no", "nn": "no"}.get(hint_code, hint_code)
            if len(hint_code) != 2:
                hint_code = None
    sample = text[:20000]
    head = sample[:5000]
    scripts = {name: len(rx.findall(head)) for name, rx in _SCRIPTS.items()}
    scripts["latin"] = len(_LATIN.findall(head))
    total = sum(scripts.values())
    if total:
        top = max(scripts, key=scripts.get)
        if top not in ("latin", "cyr") and scripts[top] > 0.3 * total:
            if top == "zh" and scripts["ja"] > 0.05 * total:
                return "ja"
            return top
    words = WORD.findall(sample[:15000].lower())[:2000]
    if len(words) < 5:
        return hint_code
    scores = {lang: sum(1 for w in words if w in stops) for lang, stops in _STOPSETS.items()}
    if scripts["cyr"] > scripts["latin"]:
        scores = {k: v for k, v in scores.items() if k in ("ru", "uk")}
    else:
        scores.pop("ru", None), scores.pop("uk", None)
    best = max(scores, key=scores.get)
    ratio = scores[best] / len(words)
    if hint_code and hint_code in scores and scores[hint_code] >= 0.8 * scores[best]:
        return hint_code
    if ratio >= 0.08 or (len(words) < 60 and ratio >= 0.05):
        if best in ("da", "no") and hint_code in ("da", "no"):
            return hint_code
        return best
    return hint_code
