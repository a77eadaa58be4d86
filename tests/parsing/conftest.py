"""Fixtures of the parse-stage tests.

``dev_set`` is the article-extraction development set beside the project
(``../shared/data/article-extraction``: ``html/ID.html.gz``, ``text/ID.txt``,
``ground-truth.json``); tests that need it skip with the reason when it is
absent. ``rfi_raw`` is the RFI plain-text sample from ``examples/articles``.
"""

from __future__ import annotations

import json

import pytest

from streams.records import RawArticle
from tests.parsing.parsing_paths import DEV_SET, RFI_SAMPLE


@pytest.fixture(scope="session")
def ground_truth() -> dict:
    truth = DEV_SET / "ground-truth.json"
    if not truth.is_file():
        pytest.skip(f"development set absent: {truth} not found (it lives beside the project, in ../shared/data)")
    return json.loads(truth.read_text("utf-8"))


@pytest.fixture
def rfi_raw() -> RawArticle:
    return RawArticle(
        content=RFI_SAMPLE.read_bytes(), content_type="text", source="rfi", fetched_at="2023-03-01T08:00:00+00:00"
    )
