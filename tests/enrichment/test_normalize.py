"""Each normalisation step on its own (streams.enrichment.normalize)."""

from __future__ import annotations

from collections import Counter

import pytest

from streams.enrichment.folding import fold_acronyms, fold_short_forms
from streams.enrichment.gazetteer import gazetteer
from streams.enrichment.names import clean_name, junk_reason
from streams.enrichment.normalize import Group, Mention, build_entities, corroborated, group_mentions, vote_label


@pytest.mark.parametrize(
    "text, label, want",
    [
        ("Moscow's", "GPE", "Moscow"),
        ("Moscow’s", "GPE", "Moscow"),
        ("the United States", "GPE", "United States"),
        ("The Hague", "GPE", "The Hague"),  # capital "The" is part of a name
        ("U.S.", "GPE", "U.S."),
        ("Blinken.", "PERSON", "Blinken"),
        ("“Antony  Blinken”", "PERSON", "Antony Blinken"),
        ("President Joe Biden", "PERSON", "Joe Biden"),
        ("Mr. Blinken", "PERSON", "Blinken"),
        ("Secretary of State Antony Blinken", "PERSON", "Antony Blinken"),
        ("Belgian King Baudouin", "PERSON", "Baudouin"),  # a nationality before an office
        ("Belgian Baudouin", "PERSON", "Belgian Baudouin"),  # not without the office
        ("President", "PERSON", "President"),  # nothing left after: kept, junk_reason drops it
        ("Antony\nBlinken", "PERSON", "Antony Blinken"),
        ("", "ORG", ""),
    ],
)
def test_clean_name(text, label, want):
    assert clean_name(text, label) == want


@pytest.mark.parametrize(
    "name, label, kw, reason",
    [
        ("February 28", "DATE", {}, "label"),
        ("5", "CARDINAL", {}, "label"),
        ("'", "ORG", {}, "no letters"),
        ("neutrality", "ORG", {}, "lower case"),
        ("State", "ORG", {"tags": ("NNP",)}, "title word"),
        ("Secretary of State", "ORG", {"tags": ("NNP", "IN", "NNP")}, "title word"),
        ("President", "PERSON", {"tags": ("NNP",)}, "title word"),
        ("War", "WORK_OF_ART", {"tags": ("NN",)}, "common word"),  # not a proper noun
        ("War", "WORK_OF_ART", {"tags": ("NNP",), "lower_seen": True}, "common word"),  # "war" in the text
        ("This", "ORG", {"tags": ("NNP",)}, "common word"),  # a stop word
    ],
)
def test_junk(name, label, kw, reason):
    assert junk_reason(name, label, **kw) == reason


@pytest.mark.parametrize(
    "name, label, kw",
    [
        ("Antony Blinken", "PERSON", {"tags": ("NNP", "NNP")}),
        ("Blinken", "GPE", {"tags": ("NNP",)}),  # junk is not the place to fix labels: the vote is
        ("Tajikistan", "NORP", {"tags": ("NN",)}),  # the gazetteer knows it: never a common word
        ("American", "NORP", {"tags": ("JJ",)}),  # demonyms are adjectives
        ("Georgia", "GPE", {"tags": ("NNP",), "lower_seen": False}),
        ("AP", "ORG", {}),
        ("Secretary General Guterres", "PERSON", {"tags": ("NNP", "NNP", "NNP")}),
    ],
)
def test_not_junk(name, label, kw):
    assert junk_reason(name, label, **kw) is None


def _m(name, label, source="body", pos=0):
    return Mention(name, label, source, pos)


def test_group_mentions_keys():
    groups = group_mentions(
        [
            _m("US", "GPE", "title"),
            _m("United States", "GPE"),
            _m("Russians", "NORP"),
            _m("Russian", "NORP"),
            _m("Tajikistan", "NORP"),
            _m("Antony Blinken", "PERSON"),
            _m("antony blinken", "GPE"),
        ]
    )
    assert list(groups) == ["country:US", "norp:RU", "country:TJ", "antony blinken"]
    assert groups["country:US"].mentions == 2
    assert groups["country:US"].votes == Counter({"GPE": 1.5})  # title votes count half
    assert groups["norp:RU"].names == Counter({"Russians": 1, "Russian": 1})
    assert groups["antony blinken"].votes == Counter({"PERSON": 1.0, "GPE": 1.0})


def test_vote_label():
    g = gazetteer()
    # Majority wins: Blinken is a person 4 times, a place once.
    assert vote_label({"PERSON": 4, "GPE": 1}) == "PERSON"
    # Ties go to PERSON > ORG > GPE.
    assert vote_label({"GPE": 1, "PERSON": 1}) == "PERSON"
    assert vote_label({"GPE": 1, "ORG": 1}) == "ORG"
    # A country is a GPE whatever the model said, except a PERSON-only name.
    assert vote_label({"NORP": 2}, g.place("Tajikistan")) == "GPE"
    assert vote_label({"ORG": 1, "PERSON": 1}, g.place("Russia")) == "GPE"
    assert vote_label({"PERSON": 2}, g.place("Chad")) == "PERSON"
    # A demonym is NORP.
    assert vote_label({"GPE": 1}, None, "RU") == "NORP"
    # A known city: GPE wins a tie, and LOC/FAC become GPE.
    assert vote_label({"GPE": 1, "PERSON": 1}, g.place("Moscow")) == "GPE"
    assert vote_label({"LOC": 1}, g.place("Astana")) == "GPE"
    assert vote_label({"PERSON": 2, "GPE": 1}, g.place("Washington")) == "PERSON"
    # A known place's GPE, LOC and FAC votes are pooled: LOC 1 + GPE 1 beat ORG 2
    # (each alone would tie it); an unknown name's votes are not
    assert vote_label({"LOC": 1, "ORG": 1}, g.place("Arbil")) == "GPE"
    assert vote_label({"LOC": 1, "GPE": 1, "ORG": 2}, g.place("Arbil")) == "GPE"
    assert vote_label({"LOC": 1, "GPE": 1, "ORG": 2}) == "ORG"
    assert vote_label({"ORG": 3, "LOC": 1, "GPE": 1}, g.place("Arbil")) == "ORG"
    with pytest.raises(ValueError):
        vote_label({})


def _groups(*mentions):
    groups = group_mentions(mentions)
    for g in groups.values():
        g.label = vote_label(g.votes, g.place, g.demonym)
    return groups


def test_fold_short_forms():
    groups = _groups(
        _m("Antony Blinken", "PERSON", pos=0),
        _m("Blinken", "GPE", pos=1),
        _m("Blinken", "PERSON", pos=2),
        _m("Joe Biden", "PERSON", pos=3),
        _m("Jill Biden", "PERSON", pos=4),
        _m("Biden", "PERSON", pos=5),
        _m("Georgia", "GPE", pos=6),
        _m("Georgia Smith", "PERSON", pos=7),
    )
    assert fold_short_forms(groups) == {"blinken": "antony blinken"}
    assert groups["antony blinken"].mentions == 3 and groups["antony blinken"].label == "PERSON"
    assert "biden" in groups  # ambiguous: two Bidens
    assert "country:GE" in groups  # "Georgia" is a first name here, not a short form


def test_fold_short_forms_goes_to_the_dominant_person():
    groups = _groups(
        _m("Tim Cook", "PERSON", pos=0),
        _m("Tim Cook", "PERSON", pos=1),
        _m("Tim Cook", "PERSON", pos=2),
        _m("Hosting Cook", "PERSON", pos=3),
        _m("Cook", "ORG", pos=4),
        _m("Cook", "PERSON", pos=5),
    )
    assert fold_short_forms(groups) == {"cook": "tim cook"}
    assert groups["tim cook"].mentions == 5 and groups["hosting cook"].mentions == 1


def test_fold_short_forms_of_a_short_form_already_folded():
    # "de Silva" folds into "Aravinda de Silva" first; "Silva", whose candidates
    # were both, then goes to the one left (a KeyError once: a scoreboard's
    # "Man of the Match: Aravinda de Silva" dead-lettered the article)
    groups = _groups(
        _m("Aravinda de Silva", "PERSON", pos=0),
        _m("de Silva", "PERSON", pos=1),
        _m("Silva", "PERSON", pos=2),
    )
    assert fold_short_forms(groups) == {"de silva": "aravinda de silva", "silva": "aravinda de silva"}
    assert list(groups) == ["aravinda de silva"] and groups["aravinda de silva"].mentions == 3


def test_fold_short_forms_keeps_a_place_named_like_a_person():
    groups = _groups(_m("George Washington", "PERSON"), _m("Washington", "GPE"), _m("Washington", "GPE"))
    assert fold_short_forms(groups) == {}
    assert groups["place:US:region:Washington"].label == "GPE"  # a known place is keyed by its identity


def test_fold_acronyms():
    groups = _groups(
        _m("United Nations", "ORG"),
        _m("UN", "ORG"),
        _m("European Union", "ORG"),
        _m("EU", "GPE"),
        _m("US", "GPE"),
        _m("Ukrainian Security Service", "ORG"),
    )
    assert fold_acronyms(groups) == {"un": "united nations", "eu": "european union"}
    assert groups["united nations"].mentions == 2
    assert "country:US" in groups  # a country is never folded


def test_corroborated():
    title_only = Group(key="shows support", sources={"title"}, label="PERSON", names=Counter({"Shows Support": 1}))
    assert not corroborated(title_only)
    assert corroborated(Group(key="country:KZ", sources={"title"}, place=gazetteer().place("Kazakhstan")))
    assert corroborated(Group(key="x", sources={"body"}, names=Counter({"X": 1})))
    assert corroborated(Group(key="ap", sources={"credit"}, names=Counter({"AP": 1})))
    caption_person = Group(key="jane doe", sources={"caption"}, label="PERSON", names=Counter({"Jane Doe": 1}))
    assert corroborated(caption_person)
    caption_word = Group(key="doe", sources={"caption"}, label="PERSON", names=Counter({"Doe": 1}))
    assert not corroborated(caption_word)


def test_build_entities():
    ents = build_entities(
        [
            _m("Antony Blinken", "PERSON", pos=0),
            _m("Tajikistan", "NORP", pos=1),
            _m("Blinken", "GPE", pos=2),
            _m("US", "GPE", "title", pos=3),
            _m("Russian", "NORP", pos=4),
            _m("Central Asia", "LOC", pos=5),
            _m("Shows Support", "PERSON", "title", pos=6),
            _m("Régis Genté", "PERSON", "author", pos=7),
            _m("Kiev", "GPE", pos=8),
        ]
    )
    assert ents == [
        {"name": "Antony Blinken", "label": "PERSON", "mentions": 2, "country": None},
        {"name": "Tajikistan", "label": "GPE", "mentions": 1, "country": "TJ"},
        {"name": "United States", "label": "GPE", "mentions": 1, "country": "US"},
        {"name": "Russian", "label": "NORP", "mentions": 1, "country": "RU"},
        {"name": "Central Asia", "label": "LOC", "mentions": 1, "country": None},
        {"name": "Régis Genté", "label": "PERSON", "mentions": 1, "country": None},
        {"name": "Kyiv", "label": "GPE", "mentions": 1, "country": "UA"},
    ]


def test_a_country_called_a_person_is_the_country_unless_a_name_uses_it():
    ents = {e["name"]: e for e in build_entities([_m("Benin", "PERSON"), _m("Benin", "PERSON", pos=1)])}
    assert ents["Benin"]["label"] == "GPE" and ents["Benin"]["country"] == "BJ"
    # "Michael Jordan ... Jordan said": the man
    ents = {
        e["name"]: e
        for e in build_entities(
            [_m("Michael Jordan", "PERSON"), _m("Jordan", "PERSON", pos=1), _m("Liverpool", "PERSON", pos=2)]
        )
    }
    assert ents.get("Jordan", {"label": "PERSON"})["label"] == "PERSON"
    assert ents["Liverpool"]["label"] == "PERSON"  # a city, not a nation: left to the other rules
