"""The headline of a plain-text page: which line above (or opening) the article is its title.

A page dump puts the headline among section labels, teasers of other
stories, captions, standfirsts and widget labels. Each headline-like line in
the 40 lines before the article's span (and its first 3 lines) is scored by
general signals, weighted by :class:`TitleRules` (chosen by 5-fold
cross-validation in ``bench/extraction.py``, agreement with the HTML mode's
title of the same page):

* **shared words**: the share of its content words the article's opening
  uses (a teaser for another story or a widget label shares few);
* **a date or a byline follows** it within four lines, before any prose
  (a headline stands above its byline and time stamp; a standfirst or a
  caption below them does not);
* **headline length**: 4 to 20 words (section labels and kickers are
  shorter, standfirsts and captions longer);
* **first of a run**: the line above it is not headline-like itself (the
  headline opens the header block: kicker-free sites put it first, a
  standfirst follows it);
* **repeated** once or twice elsewhere in the page (breadcrumbs, "Share …
  for: headline", a print header); a line repeated more is navigation;
* **distance** from the article's first line, and a cost for lines inside
  the article's span.

* a **label** cost for a line of six words or fewer whose words all stand
  in a candidate twice as long within five lines (a kicker or topic label
  naming what the headline names);
* **captions**: a line whose stamps are only a credit right above the prose,
  with no date ("Jane Roe, Example Photo Agency"), gets no byline credit (a
  photo's caption).

A line ending with another candidate of four words or more (a breadcrumb
that ends with the headline) yields to that candidate; one that only opens
with it ("Series name: headline") does not.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from streams.parsing.dates import find_date
from streams.parsing.furniture import is_furniture, looks_like_sentence
from streams.parsing.metadata import byline_names, looks_like_name
from streams.parsing.textlines import RELATED_MARK, TEXT_BY, Line, is_data, is_meta_line, split_caption
from streams.parsing.words import word_count

_BEFORE, _INSIDE = 40, 3  # lines looked at before the article and at its top
_CONTENT_WORD = re.compile(r"\w{3,}")
_CELL_GAP = re.compile(r"\s{5,}")
_WORD = re.compile(r"\w+")
# Two sentences: a standfirst ("… the crisis. It is up to them …"); a lower-case
# word ends the first, so "Rep. Ilhan Omar" or "Earnings Release. Why …" do not count.
_TWO_SENTENCES = re.compile(r"(?<!\S)[a-z]{2,}[.!?]\s+[A-Z]\w")
_BY = re.compile(r"^(?:by|von|par|por|door)\b", re.IGNORECASE)
# A label line ("Filed to: innovation", "Tested by: …") or a breadcrumb ("Blog > Nutrition").
_LABELLED = re.compile(
    r"^[Bb][Yy]\s+[A-Z]|\b[Bb][Yy]:|^\w+(?:\s\w+)?:(?:\S|\s\S{1,25}$)|\s[>»/]\s.*\s[>»/]\s|^[\w ]{2,30}\s[>»]\s"
)
_CREDIT = re.compile(r"^([^,/|]{3,60}?)\s*[,/|]\s*(.{2,40})$")


@dataclass(frozen=True)
class TitleRules:
    """Weights of the signals above (the shared-word share weighs 1;
    ``captions`` turns the caption rule on); a best score under ``minimum``
    gives no title: no line shares the article's words and has a byline, a
    date or a headline's length (a glued menu, "Log inRegister")."""

    date: float = 0.5
    byline: float = 0.5
    length: float = 1.0
    lead: float = 0.25
    repeat: float = 0.25
    distance: float = 0.005
    inside: float = 0.5
    minimum: float = 1.0
    label: float = 0.5
    captions: bool = True


TITLE_RULES = TitleRules()


def title_candidates() -> list[TitleRules]:
    """The settings bench/extraction.py chooses from (the shipped one first)."""
    out = [TITLE_RULES]
    for date in (0.5, 1.0):
        for byline in (0.0, 0.5):
            for length in (0.5, 1.0):
                for lead in (0.0, 0.25):
                    for repeat in (0.0, 0.25):
                        for distance in (0.005, 0.01):
                            for label, captions in itertools.product((0.0, 0.5), (False, True)):
                                rules = TitleRules(
                                    date, byline, length, lead, repeat, distance, 0.5, 1.0, label, captions
                                )
                                if rules not in out:
                                    out.append(rules)
    return out


def _credit(text: str) -> bool:
    """A credit line: a name as written, then a short affiliation ("Greg
    Beacham, AP Sports Writer"); or a social handle."""
    if re.search(r"(?:^|\s)@\w{2,}", text):
        return True
    m = _CREDIT.match(text)
    return bool(m and looks_like_name(m.group(1)) and word_count(m.group(2)) <= 4)


def is_title_like(line: Line, min_words: int = 2) -> bool:
    """A line that may be a headline: ``min_words`` to 30 words, not a clause
    (ending with a comma, colon or ellipsis: a teaser), not furniture, a byline,
    a date, data, a caption, a credit or a person's name, not two sentences; a
    line ending with a full stop only in title case."""
    text = line.text.rstrip()
    if line.bullet or not min_words <= line.words <= 30 or text.endswith((",", ";", ":", "…", "...")):
        return False
    if is_furniture(text, line.words) or is_meta_line(text) or is_data(text):
        return False
    if RELATED_MARK.match(text) or split_caption(text):
        return False
    if _LABELLED.search(text) or _credit(text) or (looks_like_name(text) and text.split()[0] not in ("The", "A", "An")):
        return False
    if line.words >= 12 and _TWO_SENTENCES.search(text):
        return False
    return not (looks_like_sentence(text) and text.endswith(".") and _title_case(text) < 0.7)


def _title_case(text: str) -> float:
    """The share of the words of four letters or more (after the first) that are capitalised."""
    words = [w for w in re.findall(r"[^\W\d_][\w'’]*", text)[1:] if len(w) >= 4]
    return sum(1 for w in words if w[0].isupper()) / len(words) if words else 0.5


def _first_cell(line: Line) -> Line:
    """The line's first cell when a dump laid a table row's cells side by side
    (five spaces or more between them): "Headline      Home" -> "Headline"."""
    cells = _CELL_GAP.split(line.text, maxsplit=1)
    if len(cells) == 1:
        return line
    return Line(cells[0], line.indent, line.bullet, word_count(cells[0]), line.index)


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _is_byline(line: Line) -> bool:
    text = line.text
    return line.words <= 12 and bool(
        byline_names(text) or _BY.match(text) or _credit(text) or looks_like_name(text) or TEXT_BY.match(text)
    )


def _stamped(lines: list[Line], i: int, captions: bool = True) -> tuple[bool, bool]:
    """``(date, byline)``: whether a short dated line (among the next four that
    are not furniture) or a byline (among the next three) follows line ``i``
    before any prose. With ``captions``, a credit right above the prose with
    no date ("Al Goldis, Associated Press") marks a photo's caption, not a
    byline."""
    following: list[Line] = []
    prose = False
    for line in lines[i + 1 : i + 8]:
        if line.words > 16 and looks_like_sentence(line.text):
            prose = True
            break
        if not is_furniture(line.text, line.words):
            following.append(line)
        if len(following) == 4:
            break
    date = any(l.words <= 16 and find_date(l.text) for l in following)
    last = following[-1].text if following else ""
    if captions and prose and not date and _credit(last) and not (_BY.match(last) or TEXT_BY.match(last)):
        return False, False
    return date, any(_is_byline(l) for l in following[:3])


def _labelled(c: tuple[float, str, str, int, int], scored: list, cost: float) -> tuple[float, str, str, int, int]:
    """A short candidate whose words all stand in a longer one within five
    lines is a kicker or a topic label ("Dancing With the Stars" above the
    headline naming the show): it costs ``cost``."""
    words = set(c[2].split())
    if c[3] > 6 or not words:
        return c
    if any(o[3] >= 2 * c[3] and abs(o[4] - c[4]) <= 5 and words <= set(o[2].split()) for o in scored):
        return (c[0] - cost, *c[1:])
    return c


def find_title(lines: list[Line], start: int, end: int, rules: TitleRules = TITLE_RULES) -> str | None:
    """The headline of the page whose article is ``lines[start:end]`` (None
    when no line is headline-like); a title of one word only as the page's
    first line when the article follows it."""
    page: str | None = None  # the page's normalised text, built at the first candidate
    scored: list[tuple[float, str, str, int, int]] = []  # (score, text, normalised, words, index)
    for whole in lines[max(0, start - _BEFORE) : min(end, start + _INSIDE)]:
        i, line = whole.index, _first_cell(whole)
        if not is_title_like(line, 1 if i == 0 and start <= 1 else 2):
            continue
        opening = lines[max(start, i + 1) : end][:40]
        used = set(_CONTENT_WORD.findall(" ".join(l.text for l in opening).lower()))
        words = _CONTENT_WORD.findall(line.text.lower())
        score = sum(1 for w in words if w in used) / len(words) if words else 0.0
        date, byline = _stamped(lines, i, rules.captions)
        norm = _norm(line.text)
        if page is None:
            page = "\n".join(_norm(l.text) for l in lines)
        repeats = page.count(norm) - 1 if len(norm) >= 12 and line.words >= 4 else 0
        lead = i == 0 or not is_title_like(lines[i - 1])
        score += rules.date * date + rules.byline * byline + rules.length * (4 <= line.words <= 20)
        score += rules.lead * lead + rules.repeat * (1 <= repeats <= 2)
        score -= rules.distance * abs(start - i) + rules.inside * (i >= start)
        scored.append((score, line.text, norm, line.words, i))
    if rules.label:
        scored = [_labelled(c, scored, rules.label) for c in scored]
    best = max(scored, key=lambda c: c[0], default=None)  # the first (upper) one on a tie
    if best is None or (best[0] < rules.minimum and not (best[4] == 0 and start <= 1)):
        return None  # (the first line of a short text right above its article is its title)
    inner = [c for c in scored if c is not best and c[3] >= 4 and best[2].endswith(c[2])]
    return max(inner, key=lambda c: c[0])[1] if inner else best[1]
