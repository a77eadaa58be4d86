"""The RFI plain-text sample (issue 3) gives exactly the documented fields."""

from __future__ import annotations

from streams.parsing import parse
from streams.records import stable_id

FIRST = "The head of American diplomacy Antony Blinken is on tour in Central Asia."
LAST_END = "to counterbalance Russia and China."
FURNITURE = (
    "Advertisement",
    "Read more",
    "Newsletter",
    "subscribe",
    "Follow",
    "1 min",
    "Text by",
    "Also read",
    "With our correspondent",
)


def test_rfi_fields(rfi_raw):
    article = parse(rfi_raw)
    assert article.title == "US Secretary of State Antony Blinken shows support for Kazakhstan"
    assert article.publisher == "RFI"
    assert article.authors == ["Régis Genté"]
    assert article.published_at == "2023-02-28"
    assert article.image_caption == "Antony Blinken, US Secretary of State in Astana, Kazakhstan, February 28, 2023."
    assert article.image_credit == "AP - Olivier Douliery"
    assert article.related == ["War in Ukraine: Central Asian countries remain very cautious about Russia"]
    assert article.publisher_tags == ["Kazakhstan", "United States", "Russia", "Ukraine", "Geopolitics"]
    assert article.language == "en"
    assert article.content_type == "text"
    assert article.source == "rfi" and article.fetched_at == "2023-03-01T08:00:00+00:00"


def test_rfi_body(rfi_raw):
    body = parse(rfi_raw).body
    assert body.startswith(FIRST)
    assert body.endswith(LAST_END)
    for phrase in FURNITURE:
        assert phrase not in body, phrase
    paragraphs = body.split("\n\n")
    assert len(paragraphs) == 11
    # the quote the page splits over three lines is one paragraph again
    assert (
        'Washington firmly supports "the sovereignty of Kazakhstan, its territorial integrity and its independence".'
        in paragraphs[5]
    )
    assert "Régis Genté" not in body and "AP - Olivier Douliery" not in body


def test_rfi_counts_and_id(rfi_raw):
    article = parse(rfi_raw)
    assert article.word_count == len(article.body.split()) == 231
    assert article.reading_time_min == 1
    # no URL: the id is that of the normalised body, stable across runs
    assert article.id == stable_id(" ".join(article.body.split()))
    assert parse(rfi_raw).id == article.id


def test_rfi_sniffed_as_text(rfi_raw):
    rfi_raw.content_type = None
    article = parse(rfi_raw)
    assert article.content_type == "text"
    assert article.authors == ["Régis Genté"]
