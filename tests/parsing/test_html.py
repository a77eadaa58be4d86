"""HTML pages: what the parser removes before trafilatura reads the page."""

from __future__ import annotations

from streams.parsing import parse
from streams.records import RawArticle

PARAGRAPH = (
    "The committee met on Tuesday to review the new budget proposal for the coming year, "
    "and its members asked the minister to explain the cuts to regional transport spending."
)


def _page(nav: str) -> bytes:
    body = "\n".join(f"<p>{PARAGRAPH} Paragraph {i}.</p>" for i in range(6))
    return f"""<!DOCTYPE html><html lang="en"><head><title>Budget review | Example News</title></head><body>
<nav class="site-nav">{nav}</nav>
<noscript><p>Please enable JavaScript to read Example News, the best news site in the region for you.</p></noscript>
<article><h1>Budget review</h1>{body}
<div class="tags"><a href="/tag/budget">Budget</a><a href="/tag/transport">Transport</a></div>
</article></body></html>""".encode()


def test_navigation_tags_and_noscript_text_are_not_the_article():
    nav = '<div class="tags"><a href="/tag/national-sports">National Sports</a></div><ul><li><a href="/">Home</a></li></ul>'
    article = parse(RawArticle(content=_page(nav), content_type="html", url="https://news.example.com/budget"))
    assert article.publisher_tags == ["Budget", "Transport"]
    assert "JavaScript" not in article.body
    assert article.body.count("Paragraph") == 6
    assert article.title == "Budget review"
