"""Key phrases, tag merging, simhash."""

from __future__ import annotations

import re

from streams.enrichment.fingerprint import hamming, simhash
from streams.enrichment.keywords import key_phrases, merge_tags


def test_key_phrases_ranked_and_trimmed(nlp):
    doc = nlp(
        "The new climate law passed on Monday. Critics say the climate law is weak. "
        "The climate law sets carbon budgets for every sector, and carbon budgets are binding. "
        "Joe Biden signed it in Washington."
    )
    got = key_phrases(doc)
    assert got[0] == "climate law"  # three times, two words
    assert "carbon budgets" in got
    assert not any(k.lower().startswith(("the ", "a ")) for k in got)
    assert "Joe Biden" not in got and "Washington" not in got  # entities, not key phrases
    assert not any("Monday" in k for k in got)
    assert "new climate law" not in got  # contained in a better one


def test_key_phrases_skip_lists_and_long_chunks(nlp):
    doc = nlp(
        "Pack the bottled water\nbaby carrier. Pack the bottled water\nbaby carrier. "
        "We saw the very long and winding old country road near the farm."
    )
    got = key_phrases(doc)
    assert not any("\n" in k for k in got)
    assert all(len(k.split()) <= 4 for k in got)


def test_key_phrases_limit(nlp):
    doc = nlp(
        " ".join(
            f"The {w} policy matters. The {w} policy is new."
            for w in ["energy", "water", "health", "tax", "trade", "school", "housing"]
        )
    )
    assert len(key_phrases(doc, limit=3)) == 3


def test_merge_tags():
    assert merge_tags(["United States", " Russia "], ["united states", "RUSSIA", ""], ["territorial  integrity"]) == [
        "United States",
        "Russia",
        "territorial integrity",
    ]


def test_simhash_shape_and_stability():
    body = "The head of American diplomacy Antony Blinken is on tour in Central Asia. " * 3
    fp = simhash(body)
    assert fp is not None and re.fullmatch(r"[0-9a-f]{16}", fp)
    assert simhash(body) == fp
    assert simhash(body.upper()) == fp  # case-folded
    assert simhash("") is None and simhash(" ... ") is None
    assert simhash("Hi") is not None


def _fp(text: str) -> str:
    fp = simhash(text)
    assert fp is not None
    return fp


def test_simhash_near_duplicates_are_close():
    a = " ".join(f"word{i} sentence{i % 7} item{i % 13}" for i in range(200))
    b = a.replace("word17 ", "changed ")
    c = " ".join(f"other{i} text{i % 5}" for i in range(200))
    assert hamming(_fp(a), _fp(b)) <= 8
    assert hamming(_fp(a), _fp(c)) >= 16
    assert hamming("ffffffffffffffff", "0000000000000000") == 64
