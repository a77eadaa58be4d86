"""Plain-text pages: which lines are the article.

The input is the text of a whole page as a browser copy or a scraper's text
dump gives it (menus, "Advertisement", share prompts, newsletter boxes, a
caption, a byline, "Also read" links and topic tags around the article's
paragraphs), or a clean article such as wire copy.

Method (general rules; the costs are :class:`Rules`, chosen by 5-fold
cross-validation in ``bench/extraction.py``):

1. split into lines, remembering indentation and bullets, rejoining lines a
   dump broke inside a sentence (:mod:`~streams.parsing.textlines`);
2. give every line a value: prose (a sentence end and several words, or a
   long line) is worth its word count; furniture
   (:func:`~streams.parsing.furniture.is_furniture`) and short bullets cost;
   short labels cost a little; rows of a table or of results are worth a
   little (wire copy is news);
3. the article is the run of lines with the largest total value (a maximum
   sum segment, as in Finn's Body Text Extraction), cut where reader comments
   begin and without teaser islands at its ends; inside it, furniture and
   metadata lines (byline, date, caption) are dropped, lists, tables and
   datelines kept (bullets only in the text column: the indentation that
   holds most of the prose; a sidebar of teasers sits elsewhere), and the
   body begins and ends with a prose line in the article's own column (a
   header or a newsletter box laid out otherwise is not body);
4. title, byline, caption, date, related links and tags are read from the
   lines around the body (:mod:`~streams.parsing.textfields`; the headline:
   :mod:`~streams.parsing.texttitle`).

A short text (a title and a sentence or two) is an article too: when no run
of prose is found, its sentences are the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from streams.parsing.extracted import Extracted
from streams.parsing.furniture import is_furniture, is_short_sentence, looks_like_sentence
from streams.parsing.textfields import read_fields
from streams.parsing.textlines import (
    CORRESPONDENT,
    RELATED_MARK,
    Line,
    fix_quotes,
    is_data,
    is_dateline,
    is_meta_line,
    split_lines,
    wraps,
)
from streams.parsing.texttitle import TITLE_RULES, TitleRules

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
_FURNITURE = -12.0  # the value of a furniture line
# A person's name alone on a line: two to four capitalised words ("Larry Fine", "Mona Eltahawy").
_NAME_LINE = re.compile(r"^[A-Z][a-z'’\-]+(?:\s(?:[A-Z]\.|[A-Z][a-z'’\-]+|van|von|de|al|el|bin)){1,3}$")


@dataclass(frozen=True)
class Rules:
    """Line values for the segment search (bench/extraction.py cross-validates them).

    ``label``: a short line that is neither prose nor furniture; ``bullet``: a
    short bullet item (less one per word, up to six); ``escalation``: the j-th
    costly line of a run costs ``1 + j * escalation`` times its value, so one
    "Advertisement" inside the article is cheap to bridge and a menu is not;
    ``data``: a row of a table or of results, per word; ``lists``: a bulleted
    list introduced by a line ending with a colon costs as labels do, and
    bullet items inside the article, in its text column, are body."""

    label: float = -3.0
    bullet: float = -4.0
    escalation: float = 1 / 3
    data: float = 0.25
    lists: bool = True
    column_ends: bool = True


# The choice of bench/extraction.py's cross-validation on all development pages
# (and in four of the five folds).
RULES = Rules(escalation=0.0)


def rule_candidates() -> list[Rules]:
    """The settings bench/extraction.py chooses from (the shipped one first).
    Rows of tables and results are always worth something (``data`` > 0):
    wire copy's results and standings are news, whatever the development
    pages prefer."""
    out = [RULES]
    for column_ends in (True, False):
        for data in (0.25, 0.5):
            for escalation in (1 / 3, 0.0):
                for label in (-3.0, -1.5):
                    for lists in (True, False):
                        rules = Rules(label, -4.0, escalation, data, lists, column_ends)
                        if rules not in out:
                            out.append(rules)
    return out


def _value(line: Line, rules: Rules, introduced: bool = False) -> float:
    """Return a line's worth as article text (positive) or furniture (negative);
    ``introduced``: the line is an item of a list a colon introduces."""
    if is_furniture(line.text, line.words):
        return _FURNITURE
    if is_meta_line(line.text):
        return rules.label
    sentence = looks_like_sentence(line.text)
    if not sentence and (is_data(line.text) or is_dateline(line.text)):
        return rules.data * line.words if rules.data else rules.label
    if line.bullet and not (sentence and line.words >= 12):
        return rules.label if introduced and rules.lists else rules.bullet - min(line.words, 6)
    if sentence:
        return float(line.words)
    if line.words >= 15:
        return line.words * 0.5
    return rules.label


def _introduced(lines: list[Line]) -> list[bool]:
    """Per line: True for the bullets of a list whose lead-in line ends with a colon."""
    out, lead = [], False
    for line in lines:
        if not line.bullet:
            lead = line.text.endswith(":")
        out.append(line.bullet and lead)
    return out


def _column(lines: list[Line], values: list[float]) -> int | None:
    """The indentation that holds most of the prose value (None without prose)."""
    mass: dict[int, float] = {}
    for line, value in zip(lines, values):
        if value > 0:
            mass[line.indent] = mass.get(line.indent, 0.0) + value
    return max(mass, key=mass.__getitem__) if mass else None


def _column_ends(lines: list[Line], values: list[float], start: int, end: int, column: int) -> tuple[int, int]:
    """Narrow ``[start, end)`` to begin and end with a line of prose or data
    (not a bulleted teaser) in the text column, give or take two spaces."""

    def kept(i: int) -> bool:
        line = lines[i]
        return values[i] > 0 and (not line.bullet or is_data(line.text)) and column - 2 <= line.indent <= column + 4

    s, e = start, end
    while s < e and not kept(s):
        s += 1
    while e > s and not kept(e - 1):
        e -= 1
    return (s, e) if s < e else (start, end)


def _costs(values: list[float], rules: Rules) -> list[float]:
    """Escalate runs of costly lines (furniture, bullets: the j-th of a run costs
    ``v * (1 + j * escalation)``); short labels keep their small cost, as
    structured articles are full of them."""
    out, run = [], 0
    for v in values:
        if v > 0:
            run = 0
        elif v <= rules.label:
            v, run = v * (1 + run * rules.escalation), run + 1
        out.append(v)
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


def _trim_islands(lines: list[Line], values: list[float], start: int, end: int) -> tuple[int, int]:
    """Drop teaser islands at the ends of the segment: a lone prose line (under
    150 words) set apart from the rest by two lines or more, one of them a
    label (a name, a date: a river of "author / teaser" pairs). A subheading
    alone before its paragraph is no such gap; an article paragraph after an
    "Advertisement" slot is kept."""

    def label_gap(a: int, b: int) -> bool:
        return b - a >= 2 and any(_FURNITURE < values[k] <= 0 and not lines[k].bullet for k in range(a, b))

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
    while len(runs) > 1 and runs[-1][1] - runs[-1][0] == 1 and lines[runs[-1][0]].words < 150:
        if not label_gap(runs[-2][1], runs[-1][0]):
            break
        runs.pop()
    first = 0
    while first < len(runs) - 1 and runs[first][1] - runs[first][0] == 1 and lines[runs[first][0]].words < 150:
        if not label_gap(runs[first][1], runs[first + 1][0]):
            break
        first += 1
    return (runs[first][0], runs[-1][1]) if runs else (start, end)


def _is_comments_start(line: Line) -> bool:
    return not line.bullet and line.words <= 25 and bool(_COMMENTS_START.match(line.text))


def _segment(lines: list[Line], values: list[float], rules: Rules) -> tuple[int, int]:
    """The article's span of lines, ``(start, end)``; empty when there is no prose."""
    scored = _costs(values, rules)
    start, end = _best_segment(scored)
    # reader comments: the article ends where they begin; when the comments
    # outweigh the article, prefer the best run before the first comment marker
    barriers = [l.index for l in lines if _is_comments_start(l)]
    before = [b for b in barriers if b > 0]
    if before:
        if start >= before[0]:
            s2, e2 = _best_segment(scored[: before[0]])
            if e2 > s2 and sum(scored[s2:e2]) >= 20:
                start, end = s2, e2
        inner = [b for b in barriers if start < b < end]
        if inner:
            end = inner[0]
    if start >= end or max(values[start:end], default=0) <= 0:
        return 0, 0
    return _trim_islands(lines, values, start, end)


def _short_text(lines: list[Line]) -> tuple[int, int]:
    """A short text with no run of prose (a title and a sentence or two, as a
    publisher's test message): its span from the first sentence on, when it
    has one and no furniture."""
    if len(lines) > 8 or any(is_furniture(l.text, l.words) for l in lines):
        return 0, 0
    first = next((l.index for l in lines if l.words >= 2 and is_short_sentence(l.text)), None)
    if first is None:
        return 0, 0
    return (1 if first == 0 and len(lines) > 1 and not is_short_sentence(lines[0].text) else first), len(lines)


def wire_start(lines: list[Line]) -> int | None:
    """The index of a wire dateline among the first three lines ("LONDON
    1996-08-30", "PARIS (AFP) - ..."), else None.

    A page that opens with its headline and a dateline is agency copy as the
    wire delivers it, not a page dump: there is no page furniture around it
    to search away, and everything from the dateline on is the story
    (results, lists and tables included)."""
    for line in lines[:3]:
        if not line.bullet and is_dateline(line.text):
            return line.index
    return None


def article_span(text: str, rules: Rules = RULES) -> tuple[list[Line], list[float], int, int]:
    """``(lines, values, start, end)``: the page's lines, their values and the
    article's span ``lines[start:end]`` (``start == end`` when there is none).
    Wire copy (:func:`wire_start`) is the span from its dateline to the end
    or to where reader comments begin; its lines are all worth keeping but
    furniture."""
    lines = split_lines(text)
    if not lines:
        return lines, [], 0, 0
    values = [_value(l, rules, flag) for l, flag in zip(lines, _introduced(lines))]
    wire = wire_start(lines)
    if wire is not None:
        end = next((l.index for l in lines[wire + 1 :] if _is_comments_start(l)), len(lines))
        return lines, [v if v <= _FURNITURE else max(v, 1.0) for v in values], wire, end
    start, end = _segment(lines, values, rules)
    if start >= end:
        start, end = _short_text(lines)
        if start < end:
            values = [max(v, 1.0) for v in values]
    return lines, values, start, end


def extract_text(text: str, rules: Rules = RULES, title_rules: TitleRules = TITLE_RULES) -> Extracted:
    """Extract the article and its fields from the plain text of a page.

    ``text`` is the decoded page text; ``rules`` the line values,
    ``title_rules`` the headline's signals. Returns
    :class:`~streams.parsing.extracted.Extracted` whose ``body`` is ``""`` when
    no article text was found. Never raises.
    """
    lines, values, start, end = article_span(text, rules)
    if start >= end:
        return Extracted(body="")
    column = _column(lines, values)
    found = read_fields(lines, start, end, title_rules)
    wire = wire_start(lines)
    byline = wire == 2 and _NAME_LINE.match(lines[1].text) is not None
    if byline and not found.fields.authors:
        found.fields.authors = [lines[1].text]  # wire copy: headline, byline, dateline
    if wire == 1 or byline:
        found.fields.title = lines[0].text  # whatever its case and punctuation
    skip = set(found.skip)
    for line in lines[start:end]:
        m = CORRESPONDENT.match(line.text)
        if m and not m.group("name").strip() and line.index + 1 < end:
            skip.add(line.index + 1)  # the correspondent's name, on the next line
    body: list[str] = []
    last: Line | None = None  # the line that ended the body so far
    authors = set(found.fields.authors)
    # the article's own column: where its prose (not a list of teasers) sits
    inner = _column(lines[start:end], [0.0 if l.bullet else values[l.index] for l in lines[start:end]])
    if rules.column_ends and inner is not None and wire is None:
        start, end = _column_ends(lines, values, start, end, inner)
    for line in lines[start:end]:
        if line.index in skip or line.text in authors or RELATED_MARK.match(line.text):
            continue
        v = values[line.index]
        if v <= _FURNITURE or is_meta_line(line.text):
            continue
        in_column = column is None or column <= line.indent <= column + 4
        if line.bullet and v < 0 and not ((rules.lists and in_column) or is_data(line.text)):
            continue  # a short bullet: a menu or a teaser inside the span (a list item sits in the column)
        if line.text == found.fields.title:
            continue
        if last is not None and wraps(last, line):
            body[-1] += " " + fix_quotes(line.text)  # one paragraph: a wrapped line
        else:
            body.append(fix_quotes(line.text))
        last = line
    found.fields.body = "\n\n".join(body)
    return found.fields
