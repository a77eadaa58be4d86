"""A paragraph-level vote of independent extractors.

Each extractor gives its opinion of a page as a list of lines (paragraphs).
The lines of two opinions are merged into one list in document order; each
line then gets one vote from every opinion that holds most of its text, and a
line is kept when its weighted votes reach a threshold. Bevendorff et al.
("An Empirical Comparison of Web Content Extraction Algorithms", SIGIR 2023)
found such ensembles beat every single extractor; ``bench/extraction.py``
chooses the weights and the threshold by 5-fold cross-validation on the
development set.

Support is measured on word 3-grams (lower case), so two extractors that
split or join paragraphs differently still agree on the text they share.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

_WORD = re.compile(r"\w+")
SUPPORTED = 0.5  # an opinion supports a line holding at least half of its 3-grams

Gram = tuple[str, str, str]


def tokens(text: str) -> list[str]:
    """The lower-cased words of ``text``."""
    return _WORD.findall(text.lower())


def _grams(words: list[str]) -> Iterator[Gram]:
    return zip(words, words[1:], words[2:])


class Opinion:
    """One extractor's lines, indexed by word 3-gram for support queries."""

    def __init__(self, lines: Sequence[str]):
        self.lines = [" ".join(line.split()) for line in lines if line and line.strip()]
        self._words = [tokens(line) for line in self.lines]
        joined = list(chain.from_iterable(self._words))
        # grams spanning two lines count too: extractors cut paragraphs differently
        self._grams = set(_grams(joined))
        self._joined = joined
        self._short: set[tuple[str, ...]] | None = None  # words and word pairs, made on first use
        self._line_of: dict[Gram, int] | None = None

    @classmethod
    def from_text(cls, text: str | None) -> Opinion:
        """An opinion from an extractor's text, one line a paragraph."""
        return cls((text or "").split("\n"))

    def support(self, words: list[str]) -> float:
        """Return the share (0-1) of the word 3-grams of a line (given as its
        :func:`tokens`) found in this opinion; a line under three words: 1.0
        when its words occur here in sequence, else 0.0."""
        if len(words) < 3:
            if not words:
                return 0.0
            if self._short is None:
                # sets, not a search of the joined text per line (a page of 20,000
                # one-word lines searched it once a line: quadratic, 10 s for 128 KB)
                self._short = {(w,) for w in self._joined}
                self._short.update(zip(self._joined, self._joined[1:]))
            return 1.0 if tuple(words) in self._short else 0.0
        grams = list(_grams(words))
        return sum(map(self._grams.__contains__, grams)) / len(grams)

    def anchor(self, words: list[str]) -> int:
        """Return the index of this opinion's line holding the last 3-gram of a
        line (given as its :func:`tokens`) that it has; -1 when none does."""
        if self._line_of is None:
            self._line_of = {}
            for i in range(len(self._words) - 1, -1, -1):  # the first line holding a gram wins
                self._line_of.update(dict.fromkeys(_grams(self._words[i]), i))
        for gram in reversed(list(_grams(words))):
            found = self._line_of.get(gram)
            if found is not None:
                return found
        return -1


def merge(base: Opinion, other: Opinion) -> list[tuple[str, list[str]]]:
    """Return the lines of both opinions in document order, each text once, as
    ``(line, tokens)``: ``base``'s lines, and each line of ``other`` that
    ``base`` does not support placed after the base line holding ``other``'s
    previous supported line (in ``other``'s order; before all when none)."""
    after: dict[int, list[tuple[str, list[str]]]] = {}
    anchor = -1
    for line, words in zip(other.lines, other._words):
        if base.support(words) >= SUPPORTED:
            anchor = max(anchor, base.anchor(words))
        else:
            after.setdefault(anchor, []).append((line, words))
    merged = list(after.get(-1, ()))
    for i, item in enumerate(zip(base.lines, base._words)):
        merged.append(item)
        merged.extend(after.get(i, ()))
    return merged


@dataclass
class Ballot:
    """A merged line and, per opinion, whether it supports the line (None: not asked)."""

    line: str
    words: list[str]
    votes: list[bool | None]


def ballots(lines: Sequence[tuple[str, list[str]]], opinions: Sequence[Opinion | None]) -> list[Ballot]:
    """Record every opinion's vote (None for an opinion not computed) on each
    ``(line, tokens)`` of :func:`merge`."""
    return [
        Ballot(line, words, [None if op is None else op.support(words) >= SUPPORTED for op in opinions])
        for line, words in lines
    ]


def _score(ballot: Ballot, weights: Sequence[float]) -> float:
    return sum(w for w, v in zip(weights, ballot.votes) if v)


def needs(table: Sequence[Ballot], weights: Sequence[float], threshold: float, index: int, words: int = 1) -> bool:
    """True when opinion ``index`` (not asked yet) could change whether lines
    of at least ``words`` words in all are kept."""
    undecided = sum(
        len(b.words) for b in table if _score(b, weights) < threshold <= _score(b, weights) + weights[index]
    )
    return undecided >= max(1, words)


def record(table: Sequence[Ballot], index: int, opinion: Opinion) -> None:
    """Record opinion ``index``'s votes on every line of the table."""
    for ballot in table:
        ballot.votes[index] = opinion.support(ballot.words) >= SUPPORTED


def select(table: Sequence[Ballot], weights: Sequence[float], threshold: float) -> list[str]:
    """Return the lines whose weighted votes reach ``threshold``."""
    return [b.line for b in table if _score(b, weights) >= threshold]
