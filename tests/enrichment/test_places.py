"""The places of a wire dateline (texts written for these tests)."""

from __future__ import annotations

import pytest

from streams.enrichment import enrich
from streams.enrichment.gazetteer import gazetteer
from streams.enrichment.places import dateline_mentions, missed_countries
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


def _entities(nlp, body: str) -> dict[str, tuple[str, str | None]]:
    article = ParsedArticle(id="t", title="Results", body=body, content_type="text", language="en")
    return {e["name"]: (e["label"], e["country"]) for e in enrich(article, nlp).entities}


def test_a_country_the_model_leaves_untagged_is_a_place(nlp):
    got = _entities(nlp, "CHISINAU 2024-03-01\n\nEngland beat Moldova 2-0 (halftime 1-0) in a qualifier on Saturday.")
    assert got.get("England") == ("GPE", "GB")
    assert got.get("Moldova", ("GPE", "MD"))[1] == "MD"


def test_a_persons_name_is_not_made_a_country(nlp):
    # "Jordan" here is Michael Jordan, whether or not the model tags each mention
    got = _entities(
        nlp,
        "Michael Jordan scored 30 points as Chicago beat Utah on Friday.\n\n"
        "Jordan said after the game that the team had played well.",
    )
    assert "Jordan" not in got or got["Jordan"][0] != "GPE"
    assert got.get("Michael Jordan", ("",))[0] == "PERSON"


def test_a_full_name_after_on_is_a_person(nlp):
    got = _entities(nlp, "Dole decided on Jack Kemp as his running mate, aides said on Twitter on Friday.")
    assert got.get("Jack Kemp", ("",))[0] == "PERSON"


def test_the_model_pieces_of_a_dateline_place_go(nlp):
    # the model tags "MEXICO" of "MEXICO CITY": the dateline's place is the city, not the country
    got = _entities(
        nlp,
        "MEXICO CITY 2024-08-30\n\nA group of heavily-armed men attacked a military convoy in the western "
        "state of Michoacan on Friday, killing one soldier, radio reports said.",
    )
    assert got.get("Mexico City") == ("GPE", "MX")
    assert "Mexico" not in got and "MEXICO" not in got, got


def test_a_city_named_for_its_country_is_not_the_country(nlp):
    doc = nlp.make_doc("They flew from PANAMA CITY to Kuwait City and then on to Panama.")  # no entities
    assert [m.name for m in missed_countries(doc, "body", 0, gazetteer())] == ["Panama"]
