"""Bylines, titles and tags: author names from byline lines, clean titles, tag case."""

from __future__ import annotations

import re

# Linear time on any line (a line is input): whitespace runs are matched one way
# only (``auteur(?:\s*+:)?\s+``, not ``auteur\s*:?\s+``, whose two runs could
# split a run of n spaces n ways), and separators start a match only at the
# start of a whitespace run (``(?<!\s)``), so a long run is not retried from
# every position inside it.
_BYLINE = re.compile(
    r"^\s*+(?:by|par|von|por|di|door|de|written\s+by|author:?|auteur(?:\s*+:)?|text\s+by\s*:)\s++(?P<names>.{3,120}?)\s*$",
    re.IGNORECASE,
)
_NAME_TOKEN = re.compile(r"^(?:[A-ZÀ-ÖØ-Þ][\w'’.\-]*|van|von|de|der|den|du|da|di|del|la|le|al|bin|ibn|y)$")
_NAME_SPLIT = re.compile(r"(?<!\s)\s*(?:,|\band\b|\bet\b|\bund\b|\by\b|\be\b|&|\|)\s*")
_NAME_TAIL = re.compile(r"[|/–—-]")  # "Jane Doe | Reuters": what follows is not a name
_SEMICOLONS = re.compile(r"(?<!\s)\s*;\s*")
_TITLE_SUFFIX = re.compile(r"(?<!\s)\s+[|–—-]\s+")


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
    text = _NAME_TAIL.split(text.strip(), maxsplit=1)[0].rstrip()  # "Jane Doe | Reuters"
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
    items = value if isinstance(value, list) else _SEMICOLONS.split(value)
    out: list[str] = []
    seen: set[str] = set()  # a page may list thousands: a set, not "in out", keeps this linear
    for item in items:
        item = re.sub(r"^(?:by|par|von|por)\s+", "", item.strip(), flags=re.IGNORECASE).strip(" ,")
        if item and item not in seen and len(item) < 80 and not re.search(r"https?://|@", item):
            seen.add(item)
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
    parts = _TITLE_SUFFIX.split(title)
    if len(parts) > 1:
        tail = parts[-1]
        if (publisher and tail.lower().replace(" ", "") in publisher.lower().replace(" ", "")) or (
            len(tail.split()) <= 3 and len(" ".join(parts[:-1]).split()) >= 4
        ):
            title = " - ".join(parts[:-1]) if len(parts) > 2 else parts[0]
    return title or None
