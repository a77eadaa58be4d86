"""HTML pages: what the parser removes before trafilatura reads the page."""

from __future__ import annotations

import htmldate
from trafilatura.utils import load_html

from streams.parsing import parse
from streams.parsing.html import _TOO_DEEP_FOR_RS, _trafilatura
from streams.parsing.markup import MAX_NESTING
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


def _article(head: str = "", before: str = "", after: str = "", paragraphs: int = 6) -> bytes:
    body = "\n".join(f"<p>{PARAGRAPH} Paragraph {i}.</p>" for i in range(paragraphs))
    return f"""<!DOCTYPE html><html lang="en"><head>{head}</head><body>{before}
<article><h1>Budget review: ministers asked to explain transport cuts</h1>{body}</article>{after}</body></html>""".encode()


def _parse(content: bytes):
    return parse(RawArticle(content=content, content_type="html", url="https://news.example.com/budget"))


def test_tags_come_from_the_articles_metadata_not_from_site_menus():
    """A menu of section links ("/topics/categories/...", as on a news site
    without a <nav> element) is not the article's tags; meta keywords and
    article:section are."""
    menu = (
        '<div class="meta-menu"><ul>'
        + "".join(
            f'<li><a href="/topics/categories/{s.lower()}.html">{s}</a></li>'
            for s in ("Human Rights", "Sport", "Weather")
        )
        + "</ul></div>"
    )
    head = (
        '<meta name="keywords" content="budget, public transport">'
        '<meta property="article:section" content="Politics"><title>Budget review</title>'
    )
    article = _parse(_article(head=head, before=menu))
    assert article.publisher_tags == ["Budget", "Public Transport", "Politics"]
    assert not {"Human Rights", "Sport", "Weather"} & set(article.publisher_tags)
    # without any metadata there are no tags, whatever the menus hold
    assert _parse(_article(before=menu)).publisher_tags == []


def test_title_is_the_headline_not_the_seo_title():
    head = (
        '<meta property="og:title" content="Budget review: ministers asked to explain transport cuts | Example News">'
    )
    assert _parse(_article(head=head)).title == "Budget review: ministers asked to explain transport cuts"
    # an <h1> that is the site's logo is not the headline
    logo = _article(head='<meta property="og:title" content="Ministers grilled on transport cuts">').replace(
        b"<h1>Budget review: ministers asked to explain transport cuts</h1>", b"<h1>Example News Online</h1>"
    )
    assert _parse(logo).title == "Ministers grilled on transport cuts"


def test_title_is_the_visible_headline_when_the_metadata_title_is_not_on_the_page():
    """A social-media title the page never shows yields to the <h1> telling the
    same story (they share words); one the page shows keeps priority."""
    head = '<meta property="og:title" content="Transport cuts: what the budget means for commuters">'
    assert _parse(_article(head=head)).title == "Budget review: ministers asked to explain transport cuts"
    shown = _article(head=head, before="<h2>Transport cuts: what the budget means for commuters</h2>")
    assert _parse(shown).title == "Transport cuts: what the budget means for commuters"
    # an <h1> sharing no word with it is no headline of this story (a widget's heading)
    unrelated = _article(head='<meta property="og:title" content="Ministers grilled on spending">')
    widget = unrelated.replace(b"Budget review: ministers asked to explain transport cuts", b"Most read this week")
    assert _parse(widget).title == "Ministers grilled on spending"


def test_title_is_never_the_sites_name():
    """An <h1> holding the site's name (the <title>'s part beside a separator,
    og:site_name) or a link to the home page (the logo) is not the headline,
    even when it is the page's only <h1> (trafilatura then takes it)."""
    head = '<meta property="og:title" content="Budget review: ministers asked to explain transport cuts - The Example Blog">'
    blog = _article(head=head, before="<header><h1>The Example Blog</h1></header>")
    assert _parse(blog).title == "Budget review: ministers asked to explain transport cuts"
    logo = _article(head="<title>Ministers grilled on transport cuts - Example</title>").replace(
        b"<h1>Budget review: ministers asked to explain transport cuts</h1>", b""
    )
    logo = logo.replace(b"<body>", b'<body><div id="header"><a href="/"><h1>Das Beispiel Blatt</h1></a></div>')
    assert _parse(logo).title == "Ministers grilled on transport cuts"
    named = _article(head='<meta property="og:site_name" content="Example News"><title>Ministers grilled</title>')
    named = named.replace(b"<body>", b"<body><h1>Example News</h1>").replace(
        b"<h1>Budget review: ministers asked to explain transport cuts</h1>", b""
    )
    assert _parse(named).title == "Ministers grilled"


def test_no_date_from_a_copyright_line_or_a_bare_year():
    page = _article(after="<footer><p>© 2019 Example News. All rights reserved.</p></footer>")
    assert htmldate.find_date(page.decode(), extensive_search=True) == "2019-01-01"  # what we refuse
    assert _parse(page).published_at is None
    dated = _article(head='<meta property="article:published_time" content="2019-11-19T08:03:00Z">')
    assert _parse(dated).published_at == "2019-11-19"


def test_body_is_the_article_without_its_furniture():
    after = (
        '<div class="related"><h3>Most read</h3><ul>'
        + "".join(
            f'<li><a href="/story/{i}">Other story number {i} about something else entirely</a></li>' for i in range(8)
        )
        + "</ul></div><p>Sign up for our newsletter</p>"
    )
    body = _parse(_article(after=after)).body
    assert body.count("Paragraph") == 6
    assert "Other story" not in body and "newsletter" not in body
    assert not body.startswith("Budget review")  # the headline is the title, not the body's first line


def test_deeply_nested_page_parses_without_rs_trafilatura():
    """rs-trafilatura overflows its stack on pages nested tens of thousands
    deep; it never sees a tree that deep: our loader flattens what libxml2
    cannot nest (so rs-trafilatura reads the flattened tree), and the guard
    keeps out a tree libxml2 stopped at its 256-level limit."""
    deep = "<div>" * 30000 + "x" + "</div>" * 30000
    page = _article(after=deep)
    assert _TOO_DEEP_FOR_RS(load_html(page.decode()))  # libxml2 alone: 256 levels, the rest of the page lost
    tree, _meta, _text = _trafilatura(page.decode(), None)
    assert tree is not None and not _TOO_DEEP_FOR_RS(tree)
    assert max(sum(1 for _ in el.iterancestors()) for el in tree.iter()) <= MAX_NESTING + 2
    article = _parse(page)  # would kill the process if rs-trafilatura read the raw page
    assert article.title == "Budget review: ministers asked to explain transport cuts"
    assert article.body.count("Paragraph") == 6
