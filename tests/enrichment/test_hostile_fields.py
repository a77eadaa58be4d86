"""Hostile fields of a parsed record never cost the model's time nor lose the article (issue 20)."""

from __future__ import annotations

import time

from streams.enrichment import enrich
from streams.enrichment.core import MAX_FIELD_CHARS
from streams.enrichment.ner import MAX_AUTHORS, field_mentions, parse_credit
from streams.records import ParsedArticle
from tests.enrichment.conftest import RFI_BODY


def test_a_title_and_caption_past_the_model_limit_are_cut_not_dead_lettered(nlp):
    # a 1,200,000-character title joined to the body was over nlp.max_length
    # (1,000,000): spaCy raised E088 and the whole article was dead-lettered
    article = ParsedArticle(
        id="x",
        body=RFI_BODY,
        content_type="text",
        language="en",
        title="Ferry " * 200_000,
        image_caption="Lisbon harbour " * 80_000,
    )
    enriched = enrich(article, nlp)
    assert "Antony Blinken" in enriched.persons and "KZ" in enriched.countries
    assert enriched.title == article.title  # the record keeps its fields; the model reads MAX_FIELD_CHARS of them
    assert MAX_FIELD_CHARS == 2_000


def test_a_credit_of_thousands_of_names_is_read_up_to_its_limit():
    credit = "/".join(f"Name{i} Person" for i in range(80_000))  # took 195 s: a list scanned per name
    started = time.perf_counter()
    names = parse_credit(credit)
    assert time.perf_counter() - started < 5
    assert names[:2] == [("Name0 Person", "PERSON"), ("Name1 Person", "PERSON")] and len(names) < 30
    assert parse_credit("AP - Jane Doe / AP / Jane Doe") == [("AP", "ORG"), ("Jane Doe", "PERSON")]


def test_thousands_of_authors_are_read_up_to_the_limit():
    mentions = field_mentions([f"Jane Doe{i}" for i in range(10_000)], None, None)
    assert len(mentions) == MAX_AUTHORS
