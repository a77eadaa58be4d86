"""The paragraph vote of streams.parsing.ensemble: support, merge order, selection."""

from __future__ import annotations

from streams.parsing.ensemble import Opinion, ballots, merge, needs, record, select, tokens

A = "The council approved the new tram line on Monday after a debate of four hours."
B = "Work on the first section will start in the spring and last two years."
C = "Residents of the old town had asked for a route that avoids the market square."
MENU = "Home News Sport Weather"


def test_support_counts_shared_word_trigrams_whatever_the_line_breaks():
    # one extractor keeps two paragraphs as one line, the other splits them
    joined = Opinion([f"{A} {B}"])
    split = Opinion([A, B])
    assert joined.support(tokens(A)) == 1.0
    assert split.support(tokens(f"{A} {B}")) == 1.0  # the 3-grams across the break count too
    assert split.support(tokens(C)) == 0.0
    half = " ".join(A.split()[:8] + C.split()[:8])
    assert 0.3 < split.support(tokens(half)) < 0.7


def test_short_lines_need_their_words_in_sequence():
    op = Opinion([A, "Photo gallery"])
    assert op.support(tokens("Photo gallery")) == 1.0
    assert op.support(tokens("gallery photo")) == 0.0


def test_merge_inserts_the_other_opinions_lines_in_document_order():
    base = Opinion([A, C])
    other = Opinion([MENU, A, B, C])
    merged = [line for line, _words in merge(base, other)]
    assert merged == [MENU, A, B, C]


def test_majority_vote_keeps_lines_two_of_three_hold():
    traf, rs, readability = Opinion([MENU, A, B]), Opinion([A, B, C]), Opinion([A, C])
    table = ballots(merge(traf, rs), [traf, rs, None])
    assert [b.votes for b in table] == [
        [True, False, None],
        [True, True, None],
        [True, True, None],
        [False, True, None],
    ]
    # Readability's vote decides the menu and C only
    assert needs(table, (1, 1, 1), 2, 2)
    assert not needs(table, (1, 1, 1), 2, 2, words=100)
    record(table, 2, readability)
    assert select(table, (1, 1, 1), 2) == [A, B, C]
    assert select(table, (1, 1, 1), 3) == [A]
