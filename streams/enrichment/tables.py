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
so (a golfer's "Henke 68 70": see ``core._finish``).
"""

from __future__ import annotations

import re

from spacy.lang.en.stop_words import STOP_WORDS

from streams.enrichment.cues import INITIAL_SURNAME
from streams.enrichment.frequency import zipf
from streams.enrichment.gazetteer import Gazetteer
from streams.enrichment.normalize import Mention
from streams.enrichment.places import capitalised_words, is_dateline, text_and_entities

#: The most words of a team's name ("Queens Park Rangers", "Red Star Belgrade").
MAX_TEAM_WORDS = 4
#: A one-word name this common in English (wordfreq's Zipf scale) or more is a
#: word, not a team ("Gold", "Reading" lose; "Tranmere", "Surrey" stay).
COMMON_WORD_ZIPF = 4.0
_NUMBER = re.compile(r"^[\d.,:;%()/+\-–—]*\d[\d.,:;%()/+\-–—]*$")
_NUMBER_NEXT = re.compile(r"\s+[(]?\d")
_INITIAL = re.compile(r"(?:^|[\s(])[A-Z]\.\s?[A-Z]")


def is_data_row(line: str) -> bool:
    """At least two numbers, and numbers for at least a third of the words (as
    the parse stage's :func:`streams.parsing.textlines.is_data` reads a line)."""
    words = line.split()
    numbers = sum(1 for w in words if _NUMBER.match(w))
    return numbers >= 2 and 3 * numbers >= len(words)


def _rows(text: str) -> list[tuple[int, str]]:
    """The non-empty lines of ``text`` with their offsets."""
    out, pos = [], 0
    for line in text.split("\n"):
        if line.strip():
            out.append((pos, line))
        pos += len(line) + 1
    return out


def _team_rows(text: str, inside: bytearray, persons: bytearray) -> list[tuple[int, str]]:
    """The data rows that name no people, of the blocks (runs of consecutive
    data rows) where fewer than half the rows name people; a dateline is no
    data row."""
    out: list[tuple[int, str]] = []
    block: list[tuple[int, str, bool]] = []
    for row in [*_rows(text), None]:
        if row is not None and is_data_row(row[1]) and not is_dateline(row[1]):
            pos, line = row
            block.append((pos, line, any(persons[pos : pos + len(line)]) or bool(_INITIAL.search(line))))
            continue
        if 2 * sum(1 for *_, people in block if people) < len(block):
            out.extend((pos, line) for pos, line, people in block if not people)
        block = []
    return out


def team_mentions(doc, source: str, start: int, gaz: Gazetteer) -> list[Mention]:
    """ORG mentions of the teams in the data rows of ``doc`` (a Doc or a Span
    of one), see the module docstring. ``source`` and ``start`` as for
    :func:`ner.doc_mentions`. Reads the text: an article without rows of
    numbers costs one pass over its lines."""
    text, inside = text_and_entities(doc)
    if not any(is_data_row(line) for _, line in _rows(text)):
        return []
    persons = text_and_entities(doc, "PERSON")[1]
    out: list[Mention] = []
    for pos, line in _team_rows(text, inside, persons):
        for run in capitalised_words(line):
            word, at = run[-1]
            end = at + len(word)
            if (
                len(run) > MAX_TEAM_WORDS
                or not _NUMBER_NEXT.match(line, end)
                or any(inside[pos + run[0][1] : pos + end])
            ):
                continue
            name = " ".join(w for w, _ in run)
            if _is_team(name, gaz):
                out.append(Mention(name, "ORG", source, start + 200_000 + pos + at, "team", run[0][1] == 0))
    return out


#: An untagged initial and surname in the text: "(A. Dale 69, H. Morris 69)". Not
#: after a letter or a dot ("U.S. Steel"), nor a surname that is a function word ("A. The").
_INITIAL_NAME = re.compile(rf"(?<![\w.]){INITIAL_SURNAME}\b")


def initial_names(doc, source: str, start: int) -> list[Mention]:
    """PERSON mentions of the initials and surnames ("P. Simmons") in ``doc``
    (a Doc or a Span of one) that the model left untagged, as scorecards and
    results name players. ``source`` and ``start`` as for
    :func:`ner.doc_mentions`."""
    text, inside = text_and_entities(doc)
    out: list[Mention] = []
    for m in _INITIAL_NAME.finditer(text):
        surname = m.group().split(".", 1)[1].strip()
        if any(inside[m.start() : m.end()]) or surname.lower() in STOP_WORDS:
            continue
        out.append(Mention(m.group(), "PERSON", source, start + 300_000 + m.start(), None, False))
    return out


def _is_team(name: str, gaz: Gazetteer) -> bool:
    place = gaz.place(name)
    if place is not None and place.kind in ("country", "region") and place.code != "US":
        return False
    return " " in name or zipf(name.lower()) < COMMON_WORD_ZIPF
