"""Plain-text pages: furniture removal, caption, byline, related links, tags.

The input is the text of a whole page as a browser copy or a scraper's text
dump gives it: menus, "Advertisement", share prompts, newsletter boxes, a
caption with its credit, a byline, "Also read" links and a bulleted list of
topic tags around the article's paragraphs.

Method (general rules, no per-site tuning):

1. split into lines, remembering indentation and bullets; rejoin lines a
   dump broke inside a sentence (an opening quote alone at a line end, a line
   of bare closing punctuation, a continuation that starts in lower case);
2. give every line a value: prose (a sentence end and several words, or a
   long line) is worth its word count, furniture (:func:`~streams.parsing.furniture.is_furniture`)
   and short bullets cost, short label-like lines cost a little;
3. the article is the run of lines with the largest total value (a maximum
   sum segment, as in Finn's Body Text Extraction); furniture and metadata
   lines (byline, date, caption, "Text by") inside it are dropped;
4. caption, credit, byline, publisher, date, related links and tags are read
   from the lines around the body with the shared rules of :mod:`fields`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from streams.parsing.dates import find_date
from streams.parsing.extracted import Extracted
from streams.parsing.furniture import is_furniture, looks_like_sentence
from streams.parsing.metadata import byline_names, split_names, tag_case
from streams.parsing.words import word_count

_BULLET = re.compile(r"^(?:[*+•·▪◦‣○●■□–—-]|o(?=\s)|\d{1,2}[.)](?=\s))\s+")
_ONLY_PUNCT = re.compile(r"""^[\s"“”'‘’«»().,;:!?…\-–—\]\[]+$""")
_OPEN_QUOTE_END = re.compile(r"""(?:^|\s)["“«„]\s*$""")
_DATE_LINE = re.compile(
    r"^(?:(?:published|updated|posted|last\s+updated|modified|date)\s*:?\s*)?"
    r"(?:on\s+)?(?:(?:mon|tue|wed|thu|fri|sat|sun)\w*\.?,?\s+)?.{0,40}\b(?:19|20)\d\d\b.{0,30}$",
    re.IGNORECASE,
)
_CREDIT_TAIL = re.compile(
    r"""^(?P<caption>.*?[.!?)”"])\s+(?P<credit>
        (?:©\s*)?(?:photo|image|credit|foto|picture)s?\s*[:/]\s*.{2,80}
      | (?:©\s*)?[A-Z][\w&.]*(?:\s?[/-]\s?[A-Z][\w&.]*)?\s[-–/|]\s[A-ZÀ-Ý][\w'’.\-]+(?:\s[A-ZÀ-Ý][\w'’.\-]+){0,3}
      | ©\s*.{2,60}
      | \((?:photo|image|credit)?[^()]{2,60}\)
    )\s*$""",
    re.VERBOSE,
)
_CORRESPONDENT = re.compile(
    r"^(?:with|from|by)\s+our\s+(?:special\s+)?(?:correspondents?|reporters?|envoy|envoys)(?:\s+in\s+[^,]{1,60})?,?\s*(?P<name>.*)$",
    re.IGNORECASE,
)
_TEXT_BY = re.compile(r"^(?:text|words|written)\s+by\s*:?\s*(?P<who>.+?)\s*$", re.IGNORECASE)
_RELATED_MARK = re.compile(
    r"^[►▶»>•*\s]*(?:also\s+read|read\s+also|read\s+more|see\s+also|related(?:\s+\w+)?|more\s+on\s+this|lire\s+aussi|à\s+lire\s+aussi|leer\s+más|lesen\s+sie\s+auch)\s*:?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
# Where reader comments begin: the article never continues past such a line.
_COMMENTS_START = re.compile(
    r"""^(?:\[\s*)?(?:
        \d+\s+(?:comments?|responses?|replies|reactions)(?:\s+to\b.*)?|
        (?:top\s+rated\s+|show\s+|view\s+|read\s+all\s+|all\s+)?comments?(?:\s*\(\d+\))?|
        .{0,60}\bpermalink\b.{0,40}\bcomments?\b.*|
        (?:leave|post|add|write)\s+a\s+(?:comment|reply)|join\s+the\s+(?:discussion|conversation)|
        discussion|reader\s+comments|responses\s+to\s+.{1,120}|what\s+do\s+you\s+think\??|tell\s+us\s+what\s+you\s+think.*
    )(?:\s*\])?\s*[:.!]*$""",
    re.IGNORECASE | re.VERBOSE,
)
_TAGS_MARK = re.compile(r"^(?:tags?|topics?|keywords|filed\s+under|categories)\s*:\s*(?P<rest>.*)$", re.IGNORECASE)


_LABEL = -3.0  # the value of a short non-furniture line (a label, a subheading)


@dataclass
class Line:
    """One line of the page: its text without bullet, indentation, bullet flag."""

    text: str
    indent: int
    bullet: bool
    words: int
    index: int


def _lines(text: str) -> list[Line]:
    """Split ``text`` into non-empty :class:`Line` records, rejoining broken sentences."""
    out: list[Line] = []
    pending_join = False
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        expanded = raw.expandtabs(4).replace("\u00a0", " ")
        stripped = expanded.strip()
        if not stripped:
            continue
        indent = len(expanded) - len(expanded.lstrip())
        bullet = False
        m = _BULLET.match(stripped)
        if m and len(stripped) > m.end():
            bullet, stripped = True, stripped[m.end() :].strip()
        elif stripped in ("*", "+", "•", "-", "o"):
            continue
        if out and not bullet and (pending_join or _ONLY_PUNCT.match(stripped)):
            prev = out[-1]
            glue = "" if _ONLY_PUNCT.match(stripped) or prev.text.endswith(("“", "«", "„")) else " "
            joined = prev.text.rstrip() + glue + stripped if glue == "" else prev.text.rstrip() + " " + stripped
            if glue == "" and prev.text.rstrip().endswith('"') and stripped.startswith('"'):
                joined = prev.text.rstrip() + stripped.lstrip('"').lstrip()
            prev.text = " ".join(joined.split())
            prev.words = word_count(prev.text)
            pending_join = bool(_OPEN_QUOTE_END.search(prev.text))
            continue
        out.append(Line(stripped, indent, bullet, word_count(stripped), len(out)))
        pending_join = bool(_OPEN_QUOTE_END.search(stripped))
    return out


def _fix_quotes(text: str) -> str:
    """Tighten straight quotes a dump padded with spaces: ``supports " the
    sovereignty … independence ".`` -> ``supports "the sovereignty …
    independence".`` (quotes alternate open/close; odd counts are left alone)."""
    if '"' not in text or text.count('"') % 2:
        return text
    parts = text.split('"')
    for i in range(1, len(parts), 2):  # parts[i] is quoted
        parts[i] = parts[i].strip()
    return '"'.join(parts)


def _value(line: Line) -> float:
    """Return a line's worth as article text (positive) or furniture (negative)."""
    if is_furniture(line.text, line.words):
        return -12.0
    if _is_meta_line(line.text):
        return _LABEL
    sentence = looks_like_sentence(line.text)
    if line.bullet and not (sentence and line.words >= 12):
        return -4.0 - min(line.words, 6)
    if sentence:
        return float(line.words)
    if line.words >= 15:
        return line.words * 0.5
    return _LABEL


def _is_meta_line(text: str) -> bool:
    """Byline, dateline, "Text by", credit-only or reading-time lines."""
    if byline_names(text) or _TEXT_BY.match(text) or _CORRESPONDENT.match(text):
        return True
    words = word_count(text)
    return bool(words <= 12 and _DATE_LINE.match(text) and find_date(text) and not looks_like_sentence(text))


def _escalate(values: list[float]) -> list[float]:
    """Make long runs of furniture cost more than their sum: the j-th
    furniture or bullet line of a run costs ``v * (1 + j/3)``, so an isolated
    "Advertisement" inside the article is cheap to bridge and a menu or a
    sidebar is not. Short labels (subheadings, list captions) keep their
    small cost: structured articles (recipes, schedules) are full of them."""
    out, run = [], 0
    for v in values:
        if v > 0:
            run = 0
            out.append(v)
        elif v > _LABEL:
            out.append(v)  # a short label (subheading, list caption) costs its value only
        else:
            out.append(v * (1 + run / 3))
            run += 1
    return out


def _best_segment(values: list[float]) -> tuple[int, int]:
    """Return ``(start, end)`` (end exclusive) of the maximum-sum run of ``values``."""
    best, best_span = float("-inf"), (0, 0)
    run, start = 0.0, 0
    for i, v in enumerate(values):
        if run <= 0:
            run, start = v, i
        else:
            run += v
        if run > best:
            best, best_span = run, (start, i + 1)
    return best_span


def _runs(values: list[float], start: int, end: int) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` runs of consecutive positive values in a span."""
    runs, i = [], start
    while i < end:
        if values[i] > 0:
            j = i
            while j < end and values[j] > 0:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def _trim_islands(lines: list[Line], values: list[float], start: int, end: int) -> tuple[int, int]:
    """Drop teaser islands at the ends of the segment.

    A river of "author name / one-line teaser" or "headline / teaser"
    pairs looks like prose line by line; what gives it away is that each
    prose line stands alone between groups of label lines (two lines or more,
    one a short line that is not ad or share furniture: a name, a date); a
    subheading alone before its paragraph is not such a group. Single-line runs of under 150 words separated from
    the rest by such a label are cut from both ends; an article paragraph
    after an "Advertisement" slot is kept.
    """

    def label_gap(a: int, b: int) -> bool:  # two lines or more, one a label
        return b - a >= 2 and any(-12 < values[k] <= 0 and not lines[k].bullet for k in range(a, b))

    runs = _runs(values, start, end)
    while len(runs) > 1:
        (s1, e1), (s0, e0) = runs[-1], runs[-2]
        if e1 - s1 == 1 and lines[s1].words < 150 and label_gap(e0, s1):
            runs.pop()
        else:
            break
    while len(runs) > 1:
        (s0, e0), (s1, e1) = runs[0], runs[1]
        if e0 - s0 == 1 and lines[s0].words < 150 and label_gap(e0, s1):
            runs.pop(0)
        else:
            break
    return (runs[0][0], runs[-1][1]) if runs else (start, end)


def _is_headline(text: str, min_words: int = 3) -> bool:
    words = word_count(text)
    return min_words <= words <= 30 and not text.rstrip().endswith((",", ";", ":")) and not is_furniture(text, words)


def _split_caption(text: str) -> tuple[str, str] | None:
    m = _CREDIT_TAIL.match(text)
    if not m or word_count(m.group("caption")) < 4:
        return None
    credit = m.group("credit").strip().strip("()").strip()
    credit = re.sub(r"^(?:photo|image|credit|foto|picture)s?\s*[:/]\s*", "", credit, flags=re.IGNORECASE)
    return m.group("caption").strip(), credit.lstrip("© ").strip()


def _tag_items(lines: list[Line], start: int) -> list[str]:
    """Return the short items of the bullet block starting at ``start``."""
    items = []
    for line in lines[start:]:
        if not line.bullet:
            break
        items.append(line.text)
    return items


def extract_text(text: str) -> Extracted:
    """Extract the article and its fields from the plain text of a page.

    ``text`` is the decoded page text. Returns
    :class:`~streams.parsing.extracted.Extracted` whose ``body`` is ``""`` when
    no run of prose was found. Never raises.
    """
    lines = _lines(text)
    if not lines:
        return Extracted(body="")
    values = [_value(l) for l in lines]
    scored = _escalate(values)
    start, end = _best_segment(scored)
    # reader comments: the article ends where they begin; when the comments
    # outweigh the article, prefer the best run before the first comment marker
    barriers = [l.index for l in lines if not l.bullet and l.words <= 25 and _COMMENTS_START.match(l.text)]
    before = [b for b in barriers if b > 0]
    if before:
        first = before[0]
        if start >= first:
            s2, e2 = _best_segment(scored[:first])
            if e2 > s2 and sum(scored[s2:e2]) >= 20:
                start, end = s2, e2
        inner = [b for b in barriers if start < b < end]
        if inner:
            end = inner[0]
    if start >= end or max(values[start:end], default=0) <= 0:
        return Extracted(body="")

    start, end = _trim_islands(lines, values, start, end)

    # title: the first headline-like line of the page when it opens the page,
    # else the last headline-like line shortly before the body
    title = None
    for i, line in enumerate(lines[: min(start, 3)]):
        # the page's very first line may be a two-word headline ("Berlin talks")
        if (
            _is_headline(line.text, 2 if i == 0 and line.text[:1].isupper() else 3)
            and not line.bullet
            and not looks_like_sentence(line.text)
        ):
            title = line.text
            break
    if title is None:
        for line in reversed(lines[max(0, start - 12) : start]):
            if (
                _is_headline(line.text)
                and not line.bullet
                and not _split_caption(line.text)
                and not _is_meta_line(line.text)
            ):
                title = line.text
                break

    caption = credit = publisher = None
    authors: list[str] = []
    head = lines[max(0, start - 15) : start + 3]
    for line in lines[max(0, start - 15) : end]:
        split = _split_caption(line.text) if caption is None and line.index < start + 3 else None
        if split and line.text != title:
            caption, credit = split
            continue
        m = _TEXT_BY.match(line.text)
        if m:
            who = re.sub(r"\s+(?:follow|suivre|seguir|folgen)\s*$", "", m.group("who"), flags=re.IGNORECASE).strip()
            names = split_names(who)
            if names:
                authors += [n for n in names if n not in authors]
            elif who and publisher is None:
                publisher = who
            continue
        m = _CORRESPONDENT.match(line.text)
        if m:
            name = m.group("name").strip()
            if not name and line.index + 1 < len(lines):
                name = lines[line.index + 1].text
            names = split_names(name)
            authors += [n for n in names if n not in authors]
            continue
        names = byline_names(line.text)
        if names and line.index < start + 5:
            authors += [n for n in names if n not in authors]

    published = None
    for line in head:
        published = find_date(line.text)
        if published:
            break
    if published is None and caption:
        published = find_date(caption)
    if published is None:
        published = find_date(" ".join(l.text for l in lines[: start + 10]))

    # body: the segment's prose, without furniture and metadata lines
    skip = set()
    for line in lines[start:end]:
        m = _CORRESPONDENT.match(line.text)
        if m and not m.group("name").strip() and line.index + 1 < end:
            skip.add(line.index + 1)
    related: list[str] = []
    body: list[str] = []
    author_set = set(authors)
    for line in lines[start:end]:
        if line.index in skip or line.text in author_set:
            continue
        rm = _RELATED_MARK.match(line.text)
        if rm:
            rest = rm.group("rest").strip()
            target = rest or (lines[line.index + 1].text if line.index + 1 < len(lines) else "")
            if target and _is_headline(target) and target not in related:
                related.append(target)
                if not rest:
                    skip.add(line.index + 1)
            continue
        v = values[line.index]
        if v <= -12 or _is_meta_line(line.text) or (line.bullet and v < 0):
            continue
        if caption and line.text.startswith(caption[:40]):
            continue
        if title and line.text == title:
            continue
        body.append(_fix_quotes(line.text))
    # related links after the body ("►Also read" + a headline)
    for line in lines[end:]:
        rm = _RELATED_MARK.match(line.text)
        if rm:
            rest = rm.group("rest").strip()
            nxt = lines[line.index + 1].text if line.index + 1 < len(lines) else ""
            target = rest or nxt
            if target and _is_headline(target) and target not in related and not looks_like_sentence(target):
                related.append(target)

    tags = _find_tags(lines, end)
    return Extracted(
        body="\n\n".join(body),
        title=title,
        authors=authors,
        publisher=publisher,
        published_at=published,
        image_caption=caption,
        image_credit=credit,
        related=related,
        tags=tags,
    )


def _find_tags(lines: list[Line], end: int) -> list[str]:
    """Return the page's topic tags: a ``Tags: a, b`` line, or a bulleted
    list of short items after the body (the last such list of the page when
    it ends the page, else the first one after the body)."""
    for line in lines[end:]:
        m = _TAGS_MARK.match(line.text)
        if m:
            rest = m.group("rest")
            items = [t for t in re.split(r"\s*[,;|]\s*", rest) if t] if rest else _tag_items(lines, line.index + 1)
            if items:
                return _clean_tags(items)
    # a bulleted list that ends the page, of short non-furniture items
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


def _clean_tags(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        tag = tag_case(item.strip(" #"))
        if tag and tag not in out and word_count(tag) <= 5:
            out.append(tag)
    return out
