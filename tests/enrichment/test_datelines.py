"""The places of a wire dateline (texts written for these tests)."""

from __future__ import annotations

import pytest

from streams.enrichment import enrich
from streams.enrichment.datelines import dateline_mentions
from streams.records import ParsedArticle


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ("DUBLIN 2024-03-01\n\nShelbourne won.", ["Dublin"]),
        ("LANDGRAAF, Netherlands 2024-03-01\n\nThe race ended.", ["Landgraaf", "Netherlands"]),
        ("AL-AIN, United Arab Emirates 2024-03-01\n\nText.", ["Al-Ain", "United Arab Emirates"]),
        ("NEW YORK (Reuters) - Stocks rose.", ["New York"]),
        ("PARIS, March 3 (AFP) - Text.", ["Paris"]),
        ("The PARIS office said 2024-03-01 was the day.", []),
        ("BREAKING: markets fall", []),
    ],
)
def test_dateline_mentions(body, names):
    got = dateline_mentions(body)
    assert [m.name for m in got] == names
    assert all(m.label == "GPE" and m.source == "body" for m in got)


def test_a_dateline_in_capitals_is_a_place_with_its_country(nlp):
    article = ParsedArticle(
        id="t",
        title="Irish league result",
        body="DUBLIN 2024-03-01\n\nShelbourne beat Bohemians 2-1 in the league on Friday.",
        content_type="text",
        language="en",
    )
    places = {e["name"]: e["country"] for e in enrich(article, nlp).entities if e["label"] == "GPE"}
    assert places.get("Dublin") == "IE"


def test_players_next_to_scores_stay_persons(nlp):
    # "beat" and a score beside a player's full name do not make a team of him;
    # a one-word place labelled as a person next to a score still is one
    article = ParsedArticle(
        id="t",
        title="Tennis results",
        body=(
            "Results of the men's singles on Thursday:\n\n"
            "Stefan Edberg (Sweden) beat Bernd Karbacher (Germany) 6-2 6-3\n\n"
            "Andrei Olhovskiy (Russia) beat Doug Flach (U.S.) 6-4 7-5"
        ),
        content_type="text",
        language="en",
    )
    labels = {e["name"]: e["label"] for e in enrich(article, nlp).entities}
    for player in ("Stefan Edberg", "Bernd Karbacher", "Doug Flach"):
        assert labels.get(player) == "PERSON", (player, labels)
