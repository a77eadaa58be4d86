"""Every page of the development set parses, in both modes, to a non-empty body.

Skips (with the reason) when ``../shared/data/article-extraction`` is absent.
"""

from __future__ import annotations

import gzip

import pytest

from streams.parsing import parse
from streams.records import RawArticle
from tests.parsing.parsing_paths import DEV_SET, dev_set_ids

IDS = dev_set_ids()
pytestmark = pytest.mark.skipif(not IDS, reason=f"development set absent: {DEV_SET} not found")


@pytest.mark.parametrize("page_id", IDS or ["absent"])
def test_html_page_parses(page_id, ground_truth):
    content = gzip.decompress((DEV_SET / "html" / f"{page_id}.html.gz").read_bytes())
    url = ground_truth[page_id]["url"]
    article = parse(RawArticle(content=content, content_type="html", url=url))
    assert article.content_type == "html"
    assert article.body.strip() and article.word_count >= 5
    assert "\n\n\n" not in article.body
    assert article.language and len(article.language) == 2
    assert len(article.id) == 32


@pytest.mark.parametrize("page_id", IDS or ["absent"])
def test_text_page_parses(page_id):
    content = (DEV_SET / "text" / f"{page_id}.txt").read_bytes()
    article = parse(RawArticle(content=content, content_type="text"))
    assert article.content_type == "text"
    assert article.body.strip() and article.word_count >= 5


def test_html_pages_sniffed(ground_truth):
    """Without a content type the HTML pages are recognised as HTML."""
    for page_id in IDS[:20]:
        content = gzip.decompress((DEV_SET / "html" / f"{page_id}.html.gz").read_bytes())
        assert parse(RawArticle(content=content)).content_type == "html", page_id
