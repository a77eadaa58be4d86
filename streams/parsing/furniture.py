"""Page furniture: lines that are navigation, calls to action, widgets, not article text.

The HTML and plain-text extractors both use these rules, so a line of furniture
is recognised the same way whatever the input was. Pure regular expressions.
"""

from __future__ import annotations

import re

from streams.parsing.words import word_count

_FURNITURE_WHOLE = re.compile(
    r"""^(?:
      advertisement|advertising|advert|ad|ads|sponsored(?:\s+content)?|promoted(?:\s+content)?|
      scroll\s+to\s+continue(?:\s+with\s+content)?|continue\s+reading(?:\s+below)?|story\s+continues\s+below|
      read\s+(?:more|also|next|the\s+full\s+(?:story|article))|also\s+read|see\s+also|more\s+on\s+this(?:\s+story)?|
      related(?:\s+(?:articles?|stories|news|content|posts?|topics|coverage|links?))?|
      recommended(?:\s+for\s+you)?|most\s+(?:popular|read|viewed|shared)(?:\s+\w+)?|trending(?:\s+now|\s+stories)?|
      you\s+(?:may|might)\s+also\s+like|more\s+(?:stories|news|videos?|from\s+.{1,40})|latest(?:\s+news|\s+stories)?|
      top\s+stories|editor'?s\s+picks?|don'?t\s+miss|watch(?:\s+now|\s+more|\s+live)?|video|play\s+video|
      share(?:\s+(?:this|on|via|article|story|the\s+article).{0,30})?|shares?|tweet|email|e-mail|print|copy(?:\s+(?:this\s+)?link)?|
      facebook|twitter|linkedin|whatsapp|pinterest|reddit|telegram|flipboard|instagram|youtube|messenger|x|
      follow(?:\s+us)?(?:\s+on\s+.{1,30})?|follow\s+.{1,30}\s+on|get\s+(?:the\s+)?short\s+url|print\s+this(?:\s+(?:article|page|story))?|subscribe(?:\s+now)?|i\s+subscribe|sign\s*(?:up|in)|log\s*(?:in|out)|register|
      newsletters?|get\s+the\s+app|download\s+the\s+app|
      \d+\s*(?:min|mins|minutes?)(?:\s+read)?|reading\s+time.{0,20}|
      comments?|\d+\s+comments?|leave\s+a\s+(?:comment|reply)|show\s+comments|view\s+comments|add\s+comment|
      back\s+to\s+top|skip\s+to\s+(?:main\s+)?content|menu|search|home|close|next|previous|prev|more|less|open|
      (?:skip|jump|go)\s+(?:directly\s+)?to\s+(?:the\s+)?(?:main\s+)?(?:content|article|navigation|search|menu|footer)|
      (?:open|close|toggle|show|hide)\s+(?:the\s+)?(?:navigation|nav|main|site|share|search)(?:\s+(?:menu|panel|bar))?|
      skip\s+navigation|accessibility\s+links|switch\s+site|currently\s+reading|account\s+settings(?:\s+log\s*out)?|
      (?:image|photo|picture|slide)\s+\d+\s+(?:of|/)\s+\d+|created\s+with\s+sketch\.?(?:\s+\w+)?|
      media\s+playback\s+is\s+unsupported\s+on\s+your\s+device|.{0,40}\ba\s+news\s+corp\s+company|
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
      \breprints?\b|\berror\s+(?:has\s+)?occurred\b|\bsomething\s+went\s+wrong\b|\bplease\s+try\s+again\b|\bhas\s+been\s+sent\s+to\b|
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
    "wrong",
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

# Furniture is short: the longest line of the development set's text pages the
# phrase or cookie-banner rules match has 636 characters, the longest of 30
# words or fewer 605. Longer lines skip those searches, which cost about 2 us
# a character (a line of 30 words can be megabytes long in hostile input).
_MAX_FURNITURE_CHARS = 2000

# Markup a dump left in the text (a tracking pixel's ``<img ...>``): never article text.
_MARKUP = re.compile(r"^<(?:img|a|div|span|iframe|script|style|link|meta|p|br)\b[^>]*>", re.IGNORECASE)

_SENTENCE_END = re.compile(r"""[.!?…:;"”’»)。！？」』）]\s*$""")


_SHARE_WORD = re.compile(
    r"(?:share|tweet|email|e-mail|print|save|comment|comments|submit|copy|link|facebook|twitter|linkedin|whatsapp"
    r"|pinterest|reddit|telegram|flipboard|messenger|tumblr|pocket|sms|mail)$",
    re.IGNORECASE,
)


def _share_bar(stripped: str) -> bool:
    """A row of share buttons: "Facebook Twitter Email LinkedIn", "Share Tweet Submit"."""
    words = stripped.replace("|", " ").replace("/", " ").split()
    return 2 <= len(words) <= 12 and all(_SHARE_WORD.match(w) for w in words)


def is_furniture(line: str, words: int | None = None) -> bool:
    """Return True when a single line of page text is page furniture.

    Furniture is a navigation or widget label (``"Advertisement"``, ``"Read
    more"``, ``"Share on Twitter"``, ``"5 min read"``, ``"Newsletter"``) or a
    short call to action or legal line (``"Subscribe to our newsletter"``,
    ``"© 2023 …"``, ``"Text by: RFI"``). Long lines (more than 30 words, or
    more than 2,000 characters) are never furniture by phrase: a sentence
    that mentions a newsletter is text.
    """
    # whitespace runs collapsed first: the patterns' \s+ and [\w&' -]{1,30} could
    # otherwise share a run of spaces every way ("more in" and 16,000 spaces: 270 s)
    stripped = " ".join(line.strip().strip("•►▶·|*+-–—\u00a0 ").split())
    if not stripped or _MARKUP.match(stripped):
        return True
    if _FURNITURE_WHOLE.match(stripped) or _share_bar(stripped):
        return True
    if len(stripped) > _MAX_FURNITURE_CHARS:
        return False
    n = words if words is not None else word_count(stripped)
    if n <= 30 and _phrase_furniture(stripped):
        return True
    return n <= 120 and bool(_FURNITURE_STRONG.search(stripped))


def looks_like_sentence(line: str) -> bool:
    """Return True when ``line`` reads as prose: several words and a sentence end."""
    return word_count(line) >= 6 and bool(_SENTENCE_END.search(line))


def is_short_sentence(text: str) -> bool:
    """Return True when ``text`` has two words or more and ends a sentence
    (``.``, ``!``, ``?`` or ``…``, closing quotes and brackets after it):
    "First paragraph...", "Markets closed higher." (linear in the text)."""
    tail = text.rstrip().rstrip("\"'”’»)]")
    return tail.endswith((".", "!", "?", "…")) and word_count(text) >= 2
