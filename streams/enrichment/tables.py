"""Teams in rows of results and standings the model leaves untagged.

Wire copy's results ("Bradford 1 Tranmere 0"), standings ("NEW YORK 74 58
.561 -") and scorecards ("Leicestershire 296") name clubs as bare words
before their numbers, where the model, which learnt names from sentences,
mostly tags nothing. In such a row, a run of capitalised words that stands
right before a number and that the model did not tag is a team: an
organisation. Not in a row of players (the model found a person in it, or
a name has an initial) nor in a table of them (half its rows are), nor in
a dateline, and not when it names a country or a nation in one (national
sides are places, :mod:`places`), when it is a common English word
("Gold 380.50" in a commodities table), or when the article names a person
so (a golfer's "Henke 68 70").
"""

from __future__ import annotations

import re

from streams.enrichment.frequency import zipf
from streams.enrichment.gazetteer import Gazetteer
from streams.enrichment.normalize import Mention
from streams.enrichment.places import is_dateline

#: The most words of a team's name ("Queens Park Rangers", "Red Star Belgrade").
MAX_TEAM_WORDS = 4
#: A one-word name this common in English (wordfreq's Zipf scale) or more is a
#: word, not a team ("Gold", "Reading" lose; "Tranmere", "Surrey" stay).
COMMON_WORD_ZIPF = 4.0
_NUMBER = re.compile(r"^[\d.,:;%()/+\-–—]*\d[\d.,:;%()/+\-–—]*$")
_NAME_WORD = re.compile(r"^[A-ZÀ-Þ][\w'’.\-]*$")


def _rows(tokens: list) -> list[list]:
    """The lines of ``tokens`` (a line ends at a token with a newline in it or after it)."""
    rows: list[list] = [[]]
    for t in tokens:
        if "\n" in t.text:
            rows.append([])
            continue
        rows[-1].append(t)
        if "\n" in t.whitespace_:
            rows.append([])
    return [r for r in rows if r]


def is_data_row(row: list) -> bool:
    """At least two numbers, and numbers for at least a third of the tokens (as
    the parse stage's :func:`streams.parsing.textlines.is_data` reads a line)."""
    numbers = sum(1 for t in row if _NUMBER.match(t.text))
    return numbers >= 2 and 3 * numbers >= len(row)


def team_mentions(doc, source: str, start: int, gaz: Gazetteer) -> list[Mention]:
    """ORG mentions of the teams in the data rows of ``doc`` (a Doc or a Span
    of one), see the module docstring. ``source`` and ``start`` as for
    :func:`ner.doc_mentions`."""
    out: list[Mention] = []
    for row in _team_rows(_rows(list(doc))):
        run: list = []
        for t in [*row, None]:
            if t is not None and not t.ent_type and _NAME_WORD.match(t.text) and not _NUMBER.match(t.text):
                run.append(t)
                continue
            if run and t is not None and _NUMBER.match(t.text) and len(run) <= MAX_TEAM_WORDS:
                name = "".join(x.text_with_ws for x in run).strip()
                if _is_team(name, gaz):
                    out.append(Mention(name, "ORG", source, start + 200_000 + run[0].i, "team", run[0] is row[0]))
            run = []
    return out


def _team_rows(rows: list[list]) -> list[list]:
    """The data rows that name no people, of the blocks (runs of consecutive
    data rows) where fewer than half the rows name people; a dateline is no
    data row."""
    out: list[list] = []
    block: list[list] = []
    for row in [*rows, []]:
        if row and is_data_row(row) and not is_dateline("".join(t.text_with_ws for t in row)):
            block.append(row)
            continue
        if 2 * sum(1 for r in block if _names_people(r)) < len(block):
            out.extend(r for r in block if not _names_people(r))
        block = []
    return out


def _names_people(row: list) -> bool:
    """A row of players, not teams: the model found a person in it, or it has a
    name with an initial ("P. Simmons 4-38")."""
    return any(t.ent_type_ == "PERSON" or (len(t.text) == 2 and t.text[1] == "." and t.text[0].isupper()) for t in row)


def _is_team(name: str, gaz: Gazetteer) -> bool:
    place = gaz.place(name)
    if place is not None and place.kind in ("country", "region") and place.code != "US":
        return False
    return " " in name or zipf(name.lower()) < COMMON_WORD_ZIPF
