"""Fields of a plain-text page read from the lines around its article:
title, caption and credit, byline and publisher, date, related links, tags.

The article's span of lines comes from :mod:`~streams.parsing.text`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from streams.parsing.dates import find_date
from streams.parsing.extracted import Extracted
from streams.parsing.furniture import is_furniture, looks_like_sentence
from streams.parsing.metadata import byline_names, split_names, tag_case
from streams.parsing.textlines import (
    CAPTION_LABEL,
    CORRESPONDENT,
    RELATED_MARK,
    TEXT_BY,
    Line,
    is_dateline,
    is_meta_line,
    split_caption,
)
from streams.parsing.texttitle import TITLE_RULES, TitleRules, find_title
from streams.parsing.words import word_count

_TAGS_MARK = re.compile(r"^(?:tags?|topics?|keywords|filed\s+under|categories)\s*:\s*(?P<rest>.*)$", re.IGNORECASE)
# a separator starts a match only at the start of a whitespace run (``(?<!\s)``):
# tried from every space of a run, ``\s+`` and ``\s*`` are quadratic in it
_FOLLOW = re.compile(r"(?<!\s)\s+(?:follow|suivre|seguir|folgen)\s*$", re.IGNORECASE)
_TAG_SEPARATOR = re.compile(r"(?<!\s)\s*[,;|]\s*")


@dataclass
class Fields:
    """The fields read (``fields.body`` still empty) and the line indices that are not body."""

    fields: Extracted
    skip: set[int] = field(default_factory=set)


def is_headline(text: str, min_words: int = 3) -> bool:
    """A line that reads as a headline: 3-30 words (``min_words``), not ending
    like a clause, not furniture."""
    words = word_count(text)
    return min_words <= words <= 30 and not text.rstrip().endswith((",", ";", ":")) and not is_furniture(text, words)


def read_fields(lines: list[Line], start: int, end: int, title_rules: TitleRules = TITLE_RULES) -> Fields:
    """Read the fields of a page whose article is ``lines[start:end]``; ``title_rules``
    weigh the headline's signals (:mod:`~streams.parsing.texttitle`)."""
    found = Fields(Extracted(body="", title=find_title(lines, start, end, title_rules)))
    f = found.fields
    seen: set[str] = set()  # of f.authors: a page may hold thousands of bylines
    for line in lines[max(0, start - 15) : end]:
        split = split_caption(line.text) if f.image_caption is None and line.index < start + 3 else None
        labelled = CAPTION_LABEL.match(line.text)
        if split and line.text != f.title:
            f.image_caption, f.image_credit = split
            found.skip.add(line.index)
            continue
        if labelled and f.image_caption is None:
            f.image_caption = labelled.group("caption").strip()
            continue
        m = TEXT_BY.match(line.text)
        if m:
            who = _FOLLOW.sub("", m.group("who")).strip()
            names = split_names(who)
            if names:
                _add_new(f.authors, names, seen)
            elif who and f.publisher is None:
                f.publisher = who
            continue
        m = CORRESPONDENT.match(line.text)
        if m:
            name = m.group("name").strip() or (lines[line.index + 1].text if line.index + 1 < len(lines) else "")
            _add_new(f.authors, split_names(name), seen)
            continue
        if line.index < start + 5:
            _add_new(f.authors, byline_names(line.text), seen)
    f.published_at = _date(lines, start, f.image_caption)
    f.related = _related(lines, start, end, found.skip)
    f.tags = _tags(lines, end)
    return found


# A line that dates the article ("Author: … Publish date: Nov 18, 2019", "Monday, November 18, 2019, 4:05 pm").
_STAMP_CUE = re.compile(
    r"\b(?:by|published|publish\s+date|updated|posted|author|date)\b|^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b",
    re.IGNORECASE,
)
_COPYRIGHT = re.compile(r"©|\(c\)|\bcopyright\b", re.IGNORECASE)


def _date(lines: list[Line], start: int, caption: str | None) -> str | None:
    """The date written nearest above the body (within 40 lines), else that
    of a stamp, byline or dateline among the body's first 20 lines, else the
    caption's. A date in the article's prose is an event's; furniture and
    copyright lines never give a date; a year alone is no date
    (:func:`~streams.parsing.dates.find_date`)."""
    stamps = [
        l
        for l in lines[start : start + 20]
        if is_meta_line(l.text) or is_dateline(l.text) or (l.words <= 14 and _STAMP_CUE.search(l.text))
    ]
    for line in [*reversed(lines[max(0, start - 40) : start]), *stamps]:
        if is_furniture(line.text, line.words) or _COPYRIGHT.search(line.text):
            continue
        published = find_date(line.text)
        if published:
            return published
    return find_date(caption) if caption else None


def _related(lines: list[Line], start: int, end: int, skip: set[int]) -> list[str]:
    """Headlines of "Also read" links, inside the body or after it."""
    related: list[str] = []
    seen: set[str] = set()
    for line in lines[start:]:
        m = RELATED_MARK.match(line.text)
        if not m:
            continue
        rest = m.group("rest").strip()
        target = rest or (lines[line.index + 1].text if line.index + 1 < len(lines) else "")
        inside = line.index < end
        if target and is_headline(target) and target not in seen and (inside or not looks_like_sentence(target)):
            seen.add(target)
            related.append(target)
            if inside and not rest:
                skip.add(line.index + 1)
    return related


def _tags(lines: list[Line], end: int) -> list[str]:
    """The page's topic tags: a ``Tags: a, b`` line, or a bulleted list of
    short items after the body that ends the page."""
    for line in lines[end:]:
        m = _TAGS_MARK.match(line.text)
        if m:
            rest = m.group("rest")
            items = [t for t in _TAG_SEPARATOR.split(rest) if t] if rest else _bullets(lines, line.index + 1)
            if items:
                return _clean_tags(items)
    blocks: list[list[Line]] = []
    for line in lines[end:]:
        if line.bullet:
            if blocks and blocks[-1][-1].index == line.index - 1:
                blocks[-1].append(line)
            else:
                blocks.append([line])
    if blocks and blocks[-1][-1].index == len(lines) - 1:
        block = blocks[-1]
        if 2 <= len(block) <= 15 and all(1 <= l.words <= 4 and not is_furniture(l.text, l.words) for l in block):
            return _clean_tags([l.text for l in block])
    return []


def _bullets(lines: list[Line], start: int) -> list[str]:
    items = []
    for line in lines[start:]:
        if not line.bullet:
            break
        items.append(line.text)
    return items


def _clean_tags(items: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        tag = tag_case(item.strip(" #"))
        if tag and tag not in seen and word_count(tag) <= 5:
            seen.add(tag)
            out.append(tag)
    return out


def _add_new(found: list[str], new: list[str], seen: set[str]) -> None:
    """Append the strings of ``new`` not in ``seen`` to ``found`` (``seen`` holds
    ``found``'s strings: membership in a set, not a scan of the list)."""
    for item in new:
        if item not in seen:
            seen.add(item)
            found.append(item)
