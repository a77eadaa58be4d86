"""Issue 4 targets on the RFI sample (examples/articles/rfi-2023-02-28-blinken-kazakhstan.txt)."""

from __future__ import annotations

import re

import pytest

from streams.enrichment import enrich, enrich_batch
from tests.enrichment.conftest import make_rfi_article

PLACES = {
    "Kazakhstan",
    "Astana",
    "Central Asia",
    "Kyrgyzstan",
    "Uzbekistan",
    "Tajikistan",
    "Turkmenistan",
    "Russia",
    "Moscow",
    "Ukraine",
    "China",
    "Georgia",
    "Moldova",
}


@pytest.fixture(scope="module")
def enriched(nlp):
    return enrich(make_rfi_article(), nlp)


def test_persons_exactly(enriched):
    assert sorted(enriched.persons) == ["Antony Blinken", "Olivier Douliery", "Régis Genté"]


def test_organizations_are_organizations(enriched):
    assert {"AP", "RFI"} <= set(enriched.organizations)
    # "State" (from "Secretary of State") is a title word, not an organisation.
    assert set(enriched.organizations) == {"AP", "RFI"}


def test_places(enriched):
    assert set(enriched.places) >= PLACES
    assert not PLACES & set(enriched.persons)
    assert "Antony Blinken" not in enriched.places and "Blinken" not in enriched.places


def test_countries_exactly(enriched):
    assert sorted(enriched.countries) == sorted("KZ KG UZ TJ TM US RU UA CN GE MD".split())


def test_entities_shape_and_labels(enriched):
    by_name = {e["name"]: e for e in enriched.entities}
    for e in enriched.entities:
        assert set(e) == {"name", "label", "mentions", "country"}
        assert e["mentions"] >= 1
    # "Antony Blinken" is once labelled GPE by the model: the vote makes him a PERSON.
    assert by_name["Antony Blinken"]["label"] == "PERSON"
    assert by_name["Antony Blinken"]["mentions"] == 5  # body x3, title, caption
    # "Tajikistan" is labelled NORP by the model: the gazetteer knows a country.
    assert by_name["Tajikistan"] == {"name": "Tajikistan", "label": "GPE", "mentions": 2, "country": "TJ"}
    # "US" (title, caption) and "the United States" (body) are one entity.
    assert by_name["United States"]["mentions"] == 3 and by_name["United States"]["country"] == "US"
    assert by_name["Astana"]["country"] == "KZ" and by_name["Moscow"]["country"] == "RU"
    assert by_name["American"]["label"] == "NORP" and by_name["American"]["country"] == "US"
    assert by_name["Central Asia"]["label"] == "LOC" and by_name["Central Asia"]["country"] is None
    assert by_name["AP"]["label"] == "ORG" and by_name["Olivier Douliery"]["label"] == "PERSON"
    assert not {"State", "War"} & set(by_name)
    assert all(e["label"] not in ("DATE", "CARDINAL", "QUANTITY", "TIME") for e in enriched.entities)


def test_keywords_tags_fingerprint(enriched):
    assert 1 <= len(enriched.keywords) <= 10
    assert "territorial integrity" in enriched.keywords
    assert "large-scale invasion" in enriched.keywords
    assert not any("Secretary" in k for k in enriched.keywords)
    # Publisher tags first, as given; then countries' names; then keywords; no case duplicates.
    assert enriched.tags[:5] == ["Kazakhstan", "United States", "Russia", "Ukraine", "Geopolitics"]
    assert {"Kyrgyzstan", "Moldova", "Georgia", "China"} <= set(enriched.tags)
    assert len({t.casefold() for t in enriched.tags}) == len(enriched.tags)
    assert set(enriched.keywords) <= set(enriched.tags)
    assert re.fullmatch(r"[0-9a-f]{16}", enriched.fingerprint)
    assert enriched.enrichment_notes == []
    assert enriched.extra == {}


def test_parsed_fields_are_kept(enriched):
    parsed = make_rfi_article()
    for name in ("id", "body", "title", "authors", "publisher", "image_credit", "publisher_tags", "language"):
        assert getattr(enriched, name) == getattr(parsed, name)


def test_batch_gives_the_same_as_one_by_one(nlp, enriched):
    batch = enrich_batch([make_rfi_article(), make_rfi_article()], nlp)
    assert [b.to_dict() for b in batch] == [enriched.to_dict()] * 2
