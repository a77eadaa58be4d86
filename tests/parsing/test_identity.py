"""Which URL an article's id comes from (issue 20): canonical links only within
the page's own site, fragments kept unless they name an anchor of the page."""

from __future__ import annotations

import pytest

from streams.parsing import parse
from streams.parsing.identity import identity_url, registrable_domain, same_site
from streams.parsing.words import canonical_url, url_key
from streams.records import RawArticle, stable_id

BODY = "<p>" + "The harbour authority of Lisbon opened a new ferry terminal on Monday morning. " * 8 + "</p>"


def page(head: str = "", body: str = BODY) -> str:
    return f"<html><head><title>Ferry terminal</title>{head}</head><body><article>{body}</article></body></html>"


def article_id(url: str | None, html: str) -> str:
    return parse(RawArticle(content=html, content_type="html", url=url)).id


def id_of(url: str) -> str:
    """The id of an article whose identity URL is ``url``: the stable id of its key."""
    key = url_key(url)
    assert key is not None
    return stable_id(key)


@pytest.mark.parametrize(
    "url, domain",
    [
        ("https://news.bbc.co.uk/a", "bbc.co.uk"),
        ("https://www.BBC.co.uk./a", "bbc.co.uk"),
        ("https://alice.github.io/post", "alice.github.io"),  # a private suffix: each user is a site
        ("http://127.0.0.1:8000/a", None),
        ("https://x.test/a", None),
        ("https://münchen.de/a", "xn--mnchen-3ya.de"),
    ],
)
def test_registrable_domain(url, domain):
    assert registrable_domain(url) == domain


def test_same_site():
    assert same_site("https://www.bbc.co.uk/news/1", "https://news.bbc.co.uk/x")
    assert not same_site("https://alice.github.io/a", "https://bob.github.io/a")
    assert not same_site("https://bbc.co.uk/a", "https://cnn.com/a")
    assert same_site("http://x.test/a", "https://x.test/b") and not same_site("http://x.test/a", "http://y.test/a")
    assert same_site("https://münchen.de/a", "https://xn--mnchen-3ya.de/b")


def test_a_canonical_link_on_another_site_does_not_replace_that_sites_article():
    victim = "https://victim.example.com/politics/the-real-article"
    spoof = page(f'<link rel="canonical" href="{victim}">')
    assert article_id("https://attacker.example.net/x", spoof) == id_of("https://attacker.example.net/x")
    assert article_id("https://attacker.example.net/x", spoof) != id_of(victim)


def test_a_canonical_link_on_the_same_site_is_the_id():
    html = page('<link rel="canonical" href="https://www.example.com/story/12">')
    assert article_id("https://m.example.com/story/12?ref=home", html) == id_of("https://www.example.com/story/12")


def test_without_a_url_of_its_own_the_page_cannot_vouch_for_its_canonical_link():
    html = page('<link rel="canonical" href="https://victim.example.com/a">')
    parsed = parse(RawArticle(content=html, content_type="html"))
    assert parsed.id != id_of("https://victim.example.com/a")  # never the article at that link
    assert parsed.id == stable_id("claimed:" + str(url_key("https://victim.example.com/a")))
    # copies of one story claiming two sites' links stay two articles
    other = parse(
        RawArticle(content=page('<link rel="canonical" href="https://wire.example.net/a">'), content_type="html")
    )
    assert other.id != parsed.id


def test_different_texts_at_fragments_that_are_no_anchors_get_different_ids():
    other = BODY.replace("Lisbon", "Porto")
    a = article_id("https://spa.example.com/app#!/story/1", page())
    b = article_id("https://spa.example.com/app#!/story/2", page(body=other))
    assert a != b
    assert a == id_of("https://spa.example.com/app#!/story/1")
    # the shell's canonical link names the app, not the story the fragment chose
    shell = page('<link rel="canonical" href="https://spa.example.com/app">')
    assert article_id("https://spa.example.com/app#!/story/1", shell) == a


def test_a_fragment_that_names_an_anchor_of_the_page_is_the_page():
    html = page(body=BODY + '<h2 id="comments">Comments</h2><a name="top"></a>')
    plain = article_id("https://example.com/a", html)
    assert article_id("https://example.com/a#comments", html) == plain
    assert article_id("https://example.com/a#top", html) == plain
    assert article_id("https://example.com/a#nowhere", html) != plain


def test_plain_text_pages_keep_the_fragment():
    text = "Ferry terminal opens\n\n" + "The harbour of Lisbon opened a terminal on Monday. " * 5
    a = parse(RawArticle(content=text, content_type="text", url="https://example.com/a#1")).id
    b = parse(RawArticle(content=text.replace("Lisbon", "Porto"), content_type="text", url="https://example.com/a#2"))
    assert a != b.id


@pytest.mark.parametrize(
    "variant",
    [
        "https://example.com/a/",
        "https://example.com/a?b=2&a=1",
        "http://EXAMPLE.com:80/a?utm_source=x",
        "https://x.test/a",
    ],
)
def test_the_url_picked_is_normalised_by_canonical_url_alone(variant):
    # issue 17 merges /a and /a/, query orders, http and https by changing canonical_url: the
    # identity rules pick which URL, and its normalisation is canonical_url's, so they follow
    assert identity_url(variant, None) == canonical_url(variant)
