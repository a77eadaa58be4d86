"""Shared field rules: dates, tags, titles, names, language, sniffing, furniture."""

from __future__ import annotations

import pytest

from streams.parsing import parse
from streams.parsing.charset import sniff_content_type
from streams.parsing.dates import find_date, normalise_date
from streams.parsing.furniture import _FURNITURE_PHRASE, _phrase_furniture, is_furniture
from streams.parsing.language import detect_language
from streams.parsing.metadata import byline_names, clean_title, split_names, tag_case
from streams.records import RawArticle
from tests.parsing.parsing_paths import DEV_SET


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Antony Blinken in Astana, Kazakhstan, February 28, 2023. AP - Olivier Douliery", "2023-02-28"),
        ("Nov. 19, 2019 8:03 am ET", "2019-11-19"),
        ("Publié le 28 février 2023 à 10h", "2023-02-28"),
        ("posted 2023-02-28T09:15:00Z", "2023-02-28T09:15:00+00:00"),
        ("on 31/12/2019", "2019-12-31"),
        ("on 03/04/2019", None),  # day and month ambiguous
        ("no date here", None),
    ],
)
def test_find_date(text, expected):
    assert find_date(text) == expected


def test_normalise_date():
    assert normalise_date("2019-11-19") == "2019-11-19"
    assert normalise_date("2019-11-19T08:03:00-05:00") == "2019-11-19T08:03:00-05:00"
    assert normalise_date("2019-11-19T00:00:00") == "2019-11-19"
    assert normalise_date("2019-02-30") is None


def test_tag_case():
    assert tag_case("UNITED STATES") == "United States"
    assert tag_case("climate change") == "Climate Change"
    assert tag_case("iPhone") == "iPhone"
    assert tag_case("NATO") == "NATO"
    assert tag_case("war in ukraine") == "War in Ukraine"


def test_clean_title_and_names():
    assert clean_title("Is Football Violence a Crime? - WSJ", "WSJ") == "Is Football Violence a Crime?"
    assert byline_names("By Jane Doe and John Roe") == ["Jane Doe", "John Roe"]
    assert split_names("Régis Genté") == ["Régis Genté"]
    assert byline_names("By the way, it rained") == []


@pytest.mark.parametrize(
    "text, lang",
    [
        ("The minister said that the talks were going well and that a deal was expected by the end of the week.", "en"),
        (
            "Le ministre a déclaré que les discussions se passaient bien et qu'un accord était attendu pour la fin de la semaine.",
            "fr",
        ),
        (
            "Der Minister sagte, dass die Gespräche gut verlaufen und eine Einigung bis zum Ende der Woche erwartet wird.",
            "de",
        ),
        ("Министр сказал, что переговоры идут хорошо и что соглашение ожидается к концу недели.", "ru"),
        ("先日、不正に改造したiPhoneを販売したとして、商標法違反の疑いで男性が逮捕されました。", "ja"),
    ],
)
def test_detect_language(text, lang):
    assert detect_language(text) == lang


def test_language_needs_evidence():
    assert detect_language("12345 67890") is None
    assert detect_language("12345 67890", hint="pt-BR") == "pt"


def test_sniff_and_furniture():
    assert sniff_content_type("<!DOCTYPE html><html><body><p>x</p></body></html>") == "html"
    assert sniff_content_type("Title\n\nA paragraph about <b> tags in prose.") == "text"
    for line in ("Advertisement", "Read more", "Text by: RFI Follow", "1 min", "I subscribe", "  • Share on Twitter"):
        assert is_furniture(line), line
    assert not is_furniture("The head of American diplomacy Antony Blinken is on tour in Central Asia.")


PHRASE_FURNITURE = (
    "Sign up for our newsletter",
    "We use cookies to improve your experience",
    "Privacy policy",
    "Terms of use",
    "© 2023 Example Media",
    "Copyright Reuters",
    "Follow us on Mastodon",
    "Download the Example app",
    "Share this article",
    "Click here for more",
    "Please enable JavaScript",
    "Turn off your ad blocker",
    "Check your inbox",
    "No comments yet",
    "Comments are closed",
    "Write to Jane Doe at jane.doe@example.com",
    "Photos by: Jane Doe",
    "With our correspondent in Kyiv",
    "Order reprints",
    "An error has occurred. Please try again",
    "Also on example.com",
    "Like this story?",
    "Join our free mailing list",
    "This copy is for your personal, non-commercial use",
    "Thanks for signing up!",
    "It has been sent to your email",
    "All Rights Reserved",
)


def test_phrase_prefilter_keeps_every_match():
    """The keyword prefilter of is_furniture only skips lines the phrase regex
    cannot match: on these phrases, in upper case too, and on every line of the
    development set's text pages (when the set is present)."""
    lines = [*PHRASE_FURNITURE, *(p.upper() for p in PHRASE_FURNITURE)]
    for path in sorted((DEV_SET / "text").glob("*.txt")):
        lines += [l.strip() for l in path.read_text("utf-8", "replace").splitlines() if l.strip()]
    matched = 0
    for line in lines:
        expected = bool(_FURNITURE_PHRASE.search(line))
        assert _phrase_furniture(line) == expected, line
        matched += expected
    assert matched >= 2 * len(PHRASE_FURNITURE)
    for line in PHRASE_FURNITURE:
        assert is_furniture(line), line


def test_a_two_word_first_line_is_the_title_not_lost():
    text = (
        "Berlin talks\n\n"
        "The chancellor met the leaders of the opposition in Berlin on Monday to discuss the budget.\n\n"
        "They agreed to meet again next week after the budget committee has reported.\n"
    )
    parsed = parse(RawArticle(content=text, content_type="text"))
    assert parsed.title == "Berlin talks"
    assert parsed.body.startswith("The chancellor met the leaders")
