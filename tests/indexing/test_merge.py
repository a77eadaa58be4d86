"""One article, one document: which inputs are one article and how they merge (pure: no services)."""

from __future__ import annotations

import itertools

import pytest

from indexers.elasticsearch import merge
from indexers.elasticsearch.writer import to_document
from streams.enrichment.fingerprint import simhash
from streams.parsing import parse
from streams.parsing.words import canonical_url, url_key
from streams.records import EnrichedArticle, RawArticle
from tests.one_article import CANONICAL, OTHER_PARAS, OTHER_TITLE, TITLE, html_page, page_text


def source(raw: RawArticle, **fields) -> dict:
    """The index source of a raw page, parsed for real (enrichment reduced to the fingerprint)."""
    parsed = parse(raw)
    record = EnrichedArticle.from_parsed(parsed, fingerprint=simhash(parsed.body), **fields)
    return to_document(record.to_dict(), "2026-12-01T00:00:00+00:00")[1]


HTML = RawArticle(content=html_page(), content_type="html")
TEXT = RawArticle(content=page_text(), content_type="text", source="copy.txt")
AMP = RawArticle(
    content=html_page(canonical=None),
    content_type="html",
    url="http://www.harbour.example/amp/news/2024/06/lisbon-ferry-terminal/?utm_source=tw",
)


@pytest.mark.parametrize(
    "url",
    [
        CANONICAL,
        "http://harbour.example/news/2024/06/lisbon-ferry-terminal",
        "https://www.harbour.example/news/2024/06/lisbon-ferry-terminal/",
        "https://harbour.example/news/2024/06/lisbon-ferry-terminal?utm_source=twitter&utm_medium=social&fbclid=x",
        "https://harbour.example/news/2024/06/lisbon-ferry-terminal/amp",
        "https://amp.harbour.example/news/2024/06/lisbon-ferry-terminal.amp",
        "https://m.harbour.example/news/2024/06/lisbon-ferry-terminal?outputType=amp",
        "https://harbour.example/amp/news/2024/06/lisbon-ferry-terminal",
    ],
)
def test_one_page_reached_by_many_roads_has_one_key(url):
    assert url_key(canonical_url(url)) == "harbour.example/news/2024/06/lisbon-ferry-terminal"


@pytest.mark.parametrize(
    "other",
    [
        "https://harbour.example/news/2024/06/lisbon-ferry-terminal-2",
        "https://harbour.example/news/2024/06/lisbon-ferry-terminal?page=2",
        "https://harbour.example/news/2024/06/lisbon-ferry-terminal?cid=2",  # a content id on some sites
        "https://harbour.example/news/2024/06/ampere-lisbon-ferry-terminal",
        "https://other.example/news/2024/06/lisbon-ferry-terminal",
    ],
)
def test_other_pages_keep_other_keys(other):
    assert url_key(canonical_url(other)) != url_key(canonical_url(CANONICAL))


def test_the_html_page_and_its_text_copy_are_one_article():
    html, text = source(HTML), source(TEXT)
    assert html["id"] != text["id"] and html["canonical_url"] == CANONICAL and "canonical_url" not in text
    a, b = merge.Candidate.of(merge.state(html, html["id"])), merge.Candidate.of(merge.state(text, text["id"]))
    assert merge.same_article(a, b) and merge.same_article(b, a)
    assert merge.resolve(b, [a], {a.id}) == merge.Target(a.id, [])  # the text goes to the page's document
    assert merge.resolve(a, [b], {b.id}) == merge.Target(a.id, [b.id])  # the page takes the text's in


def test_the_richer_record_wins_field_by_field_in_any_order_and_however_often():
    html, text = source(HTML), source(TEXT)
    states = [merge.state(html, html["id"]), merge.state(text, text["id"])]
    results = []
    for order in itertools.permutations(states + states[:1]):  # one of them delivered twice
        doc = order[0]
        for part in order[1:]:
            doc = merge.merge(doc, part)
        results.append({**doc, "id": html["id"]})
    assert all(r == results[0] for r in results)
    doc = results[0]
    assert doc["url"] == CANONICAL and doc["publisher"] == "Harbour News"  # kept: the text has neither
    assert doc["authors"] == ["Ana Costa"] and doc["published_at"].startswith("2024-06-03")
    assert doc["source"] == "copy.txt"  # only the text copy had one: kept too
    assert doc["content_type"] == "html" and doc["body"] == html["body"]  # the page's body, and what came with it
    assert doc["fingerprint"] == html["fingerprint"]
    assert doc["aliases"] == sorted([html["id"], text["id"]])


def _cand(id_: str, title: str = TITLE, fp: str = "0" * 16, strong: bool = False, **kw) -> merge.Candidate:
    return merge.Candidate(id_, strong, merge.title_keys(title), [fp], [id_], **kw)


def test_different_articles_never_merge():
    # two canonical URLs: never, however alike
    assert not merge.same_article(_cand("a", strong=True), _cand("b", strong=True))
    # same title, bodies far apart
    assert not merge.same_article(_cand("a"), _cand("b", fp="f" * 16))
    # near bodies, another title
    assert not merge.same_article(_cand("a"), _cand("b", title=OTHER_TITLE))
    # a title too short to say anything
    assert not merge.same_article(_cand("a", title="Letters"), _cand("b", title="Letters"))
    # published days apart, or in two languages
    assert not merge.same_article(_cand("a", published_at="2024-06-03"), _cand("b", published_at="2024-06-10"))
    assert merge.same_article(_cand("a", published_at="2024-06-03"), _cand("b", published_at="2024-06-04T01:00Z"))
    assert not merge.same_article(_cand("a", language="en"), _cand("b", language="pt"))
    # a text copy of a story two sites both carry goes to neither
    two = [_cand("s1", strong=True), _cand("s2", strong=True)]
    assert merge.resolve(_cand("w"), two, {"s1", "s2"}) == merge.Target("w", [])


def test_two_copies_without_url_meet_at_the_smaller_id_whichever_came_first():
    first, second = _cand("b1"), _cand("a2", fp="0" * 15 + "3")
    assert merge.resolve(second, [first], {"b1"}) == merge.Target("a2", ["b1"])
    assert merge.resolve(first, [second], {"a2"}) == merge.Target("a2", [])
    # b1 had a document of its own (written before a2 came): it is taken in
    assert merge.resolve(first, [second], {"a2", "b1"}) == merge.Target("a2", ["b1"])


def test_an_input_merged_before_finds_its_document_by_alias():
    doc = merge.Candidate("page", True, [], [], ["page", "copy"])
    assert merge.resolve(_cand("copy", title=OTHER_TITLE), [doc], {"page"}) == merge.Target("page", [])


def test_real_pages_of_two_articles_stay_apart():
    a = source(HTML)
    b = source(RawArticle(content=html_page(OTHER_TITLE, OTHER_PARAS, canonical=None), content_type="html"))
    c = source(RawArticle(content=page_text(TITLE, OTHER_PARAS), content_type="text"))  # same title, other text
    ca, cb, cc = (merge.Candidate.of(merge.state(s, s["id"])) for s in (a, b, c))
    assert not merge.same_article(ca, cb) and not merge.same_article(ca, cc) and not merge.same_article(cb, cc)


def test_routing_keys_put_copies_of_an_article_on_one_partition():
    html, text = source(HTML), source(TEXT)
    assert merge.routing_key(html["title"], html["id"]) == merge.routing_key(text["title"], text["id"])
    assert merge.routing_key(None, "x") != merge.routing_key(None, "y")
