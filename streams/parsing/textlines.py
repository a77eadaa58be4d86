"""Lines of a plain-text page and what each one is: prose, a label, data, a dateline, metadata.

Shared by :mod:`~streams.parsing.text` (which lines are the article) and
:mod:`~streams.parsing.textfields` (title, byline, caption, date, tags around it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from streams.parsing.dates import find_date
from streams.parsing.furniture import looks_like_sentence
from streams.parsing.metadata import byline_names
from streams.parsing.words import word_count

_BULLET = re.compile(r"^(?:[*+•·▪◦‣○●■□–—-]|o(?=\s)|\d{1,2}[.)](?=\s))\s+")
_ONLY_PUNCT = re.compile(r"""^[\s"“”'‘’«»().,;:!?…\-–—\]\[]+$""")
_OPEN_QUOTE_END = re.compile(r"""(?:^|\s)["“«„]\s*$""")
# The patterns here run on every line of a page, which is input: each is linear
# in the line. Adjacent runs that could share the same characters are
# possessive (``\s*+:?\s*+``: "Date" followed by 8,000 spaces made
# ``\s*:?\s*`` try every split of the run, 83 s), and a name is "up to its
# last non-space" (``.*\S``) rather than a lazy ``.+?`` retrying ``\s*$`` at
# every character.
_DATE_LINE = re.compile(
    r"^(?:(?:published|updated|posted|last\s+updated|modified|date)\s*+:?\s*+)?"
    r"(?:on\s+)?(?:(?:mon|tue|wed|thu|fri|sat|sun)\w*\.?,?\s+)?.{0,40}\b(?:19|20)\d\d\b.{0,30}$",
    re.IGNORECASE,
)
TEXT_BY = re.compile(r"^(?:text|words|written)\s+by\s*+:?\s*+(?P<who>.*\S)\s*$", re.IGNORECASE)
CORRESPONDENT = re.compile(
    r"^(?:with|from|by)\s+our\s+(?:special\s+)?(?:correspondents?|reporters?|envoy|envoys)"
    r"(?:\s+in\s+[^,]{1,60})?,?\s*(?P<name>.*)$",
    re.IGNORECASE,
)
# A wire dateline: a place in capitals, then a date or an agency ("LONDON, March 3
# (Reuters) -", "AL-AIN, United Arab Emirates 1996-12-06", "PARIS (AFP) -").
_DATELINE = re.compile(
    r"^[A-Z][A-Z'’.\-]{2,}(?:\s[A-Z][A-Z'’.\-]+)*(?:\s?,\s*[\w .'’-]{2,40}?)?\s*"
    r"(?:\((?:Reuters|AP|AFP|Bloomberg|dpa|UPI|IANS|PTI|Xinhua|ANSA|EFE)\)|(?:19|20)\d\d-\d\d-\d\d\b"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}\b)"
)
# A time stamp line, however its date is written ("Published Wed, Nov 20 20194:29 AM").
_STAMP = re.compile(r"^(?:published|updated|posted|last\s+updated|modified)\b.{0,80}\d", re.IGNORECASE)
# A caption the dump labels as such ("Image: The minister in Astana").
CAPTION_LABEL = re.compile(
    r"^(?:(?:cover\s+|media\s+)?(?:image|photo|photograph|picture|caption|video)\s*:|media\s+caption)\s*(?P<caption>.+)$",
    re.IGNORECASE,
)
_DATA_TOKEN = re.compile(r"^[\d.,:;%()/+\-–—]+$")


@dataclass
class Line:
    """One line of the page: its text without bullet, indentation, bullet flag, words, index."""

    text: str
    indent: int
    bullet: bool
    words: int
    index: int
    #: whether an empty line came before it on the page
    after_blank: bool = False


def split_lines(text: str) -> list[Line]:
    """Split ``text`` into non-empty :class:`Line` records, rejoining sentences a
    dump broke (an opening quote alone at a line end, a line of bare closing
    punctuation).

    Linear in ``text``: a line's joined pieces are kept as a list and read
    once, when the line is complete (100,000 lines of ")" were each joined to
    a growing line, re-read at every join: 18 s for 32 KB, quadratic).
    """
    out: list[Line] = []
    pieces: list[str] = []  # the last line's text, whitespace already collapsed, in pieces
    tail = ""  # the last two characters of that text
    pending_join = False
    blank = False
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        expanded = raw.expandtabs(4).replace("\u00a0", " ")
        stripped = expanded.strip()
        if not stripped:
            blank = True
            continue
        indent = len(expanded) - len(expanded.lstrip())
        bullet = False
        m = _BULLET.match(stripped)
        if m and len(stripped) > m.end():
            # a number is part of the item (a rank in a list of results); a bullet sign is not
            bullet, stripped = True, stripped if stripped[0].isdigit() else stripped[m.end() :].strip()
        elif stripped in ("*", "+", "•", "-", "o"):
            continue
        punct = bool(_ONLY_PUNCT.match(stripped))
        if out and not bullet and (pending_join or punct):
            tight = punct or tail.endswith(("“", "«", "„"))
            if tight and tail.endswith('"') and stripped.startswith('"'):
                piece = " ".join(stripped.lstrip('"').split())
            else:
                piece = " ".join(stripped.split())
                if piece and not tight:
                    piece = " " + piece
            pieces.append(piece)  # even an empty one: a joined line's whitespace is collapsed
            tail = (tail + piece)[-2:]
            pending_join = _opens_quote(tail)
            continue
        if out:
            _complete(out[-1], pieces)
        out.append(Line(stripped, indent, bullet, 0, len(out), blank))
        blank = False
        pieces = [" ".join(stripped.split())]
        tail = pieces[0][-2:]
        pending_join = bool(_OPEN_QUOTE_END.search(stripped))
    if out:
        _complete(out[-1], pieces)
    return out


def _complete(line: Line, pieces: list[str]) -> None:
    """Set ``line``'s text (its joined pieces) and word count."""
    if len(pieces) > 1:  # joined
        line.text = "".join(pieces)
    line.words = word_count(line.text)


def _opens_quote(tail: str) -> bool:
    """``_OPEN_QUOTE_END`` on a text with whitespace collapsed and stripped,
    read from its last two characters: an opening quote alone at its end."""
    return tail[-1:] in ('"', "“", "«", "„") and (len(tail) == 1 or tail[0] == " ")


def fix_quotes(text: str) -> str:
    """Tighten straight quotes a dump padded with spaces: ``supports " the
    sovereignty … independence ".`` -> ``supports "the sovereignty …
    independence".`` (quotes alternate open/close; odd counts are left alone)."""
    if '"' not in text or text.count('"') % 2:
        return text
    parts = text.split('"')
    for i in range(1, len(parts), 2):  # parts[i] is quoted
        parts[i] = parts[i].strip()
    return '"'.join(parts)


def is_dateline(text: str) -> bool:
    """A wire dateline (a place in capitals, then a date or an agency): body, not metadata."""
    return bool(_DATELINE.match(text))


def is_meta_line(text: str) -> bool:
    """Byline, date line, "Text by", correspondent or labelled caption (not a dateline)."""
    if byline_names(text) or TEXT_BY.match(text) or CORRESPONDENT.match(text) or CAPTION_LABEL.match(text):
        return True
    if _STAMP.match(text) and word_count(text) <= 25:
        return True
    if is_dateline(text):
        return False
    return (
        word_count(text) <= 12
        and bool(_DATE_LINE.match(text))
        and bool(find_date(text))
        and not looks_like_sentence(text)
    )


#: A line at least this long (characters) that ends in a word or a comma was
#: wrapped mid-sentence when the next line goes on with a capitalised word.
WRAP_MIN_CHARS = 40


def wraps(line: Line, nxt: Line) -> bool:
    """Whether ``nxt`` goes on with the sentence ``line`` broke off, as
    hard-wrapped plain text does ("... Michael Bevan, Damien" /
    "Flemming, Jason Gillespie ..."): the two lines are adjacent (no empty
    line between, neither a list item), ``line`` ends in a word or a comma, and ``nxt``
    starts with a lower-case word, or, after a line of at least
    :data:`WRAP_MIN_CHARS`, a capitalised one. A heading, a short list item,
    a row of data and a line ending in punctuation end where they end."""
    a, b = line.text, nxt.text
    if (
        nxt.after_blank
        or line.bullet
        or nxt.bullet
        or nxt.index != line.index + 1
        or not (a[-1].isalpha() or a[-1] == ",")
    ):
        return False
    if b[0].islower():
        return True
    return b[0].isupper() and len(a) >= WRAP_MIN_CHARS and not is_data(a) and not is_data(b)


def is_data(text: str) -> bool:
    """A row of a table or of a list of results: at least two numbers, and
    numbers for at least a third of its tokens ("Arsenal 2 Chelsea 1",
    "1. Woods (U.S.) 68 70 65 203")."""
    tokens = text.split()
    numbers = sum(1 for t in tokens if _DATA_TOKEN.match(t) and any(c.isdigit() for c in t))
    return numbers >= 2 and 3 * numbers >= len(tokens)


_CREDIT_TAIL = re.compile(
    r"""^(?P<caption>.*?[.!?)”"])\s+(?P<credit>
        (?:©\s*)?(?:photo|image|credit|foto|picture)s?\s*[:/]\s*.{2,80}
      | (?:©\s*)?[A-Z][\w&.]*(?:\s?[/-]\s?[A-Z][\w&.]*)?\s[-–/|]\s[A-ZÀ-Ý][\w'’.\-]+(?:\s[A-ZÀ-Ý][\w'’.\-]+){0,3}
      | ©\s*.{2,60}
      | \((?:photo|image|credit)?[^()]{2,60}\)
    )\s*$""",
    re.VERBOSE,
)
RELATED_MARK = re.compile(
    r"^[►▶»>•*\s]*(?:also\s+read|read\s+also|read\s+more|see\s+also|related(?:\s+\w+)?|more\s+on\s+this"
    r"|lire\s+aussi|à\s+lire\s+aussi|leer\s+más|lesen\s+sie\s+auch)\s*:?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)


def split_caption(text: str) -> tuple[str, str] | None:
    """``(caption, credit)`` of a caption line ending with its credit, else None."""
    m = _CREDIT_TAIL.match(text)
    if not m or word_count(m.group("caption")) < 4:
        return None
    credit = m.group("credit").strip().strip("()").strip()
    credit = re.sub(r"^(?:photo|image|credit|foto|picture)s?\s*[:/]\s*", "", credit, flags=re.IGNORECASE)
    return m.group("caption").strip(), credit.lstrip("© ").strip()
