"""Hostile input for the parse stage, and the time it may take.

The parse stage's stated bound on any input up to the message limit: at most
:data:`FIXED_S` plus :data:`PER_KB_S` per KB of input (:func:`budget`).
Measured (``bench/hostile_parse.py``): the slowest families parse at 1-2 ms a
KB, 2-3 ms on this project's shared 2-core machine under a load of 12; the
bound leaves a margin of several times that. A quadratic path is far
outside it: ``word_count("[" * 32000)`` took 13.6 s before it was made
linear, a 200 KB message of brackets about 9 minutes.
"""

from __future__ import annotations

import time

from streams.parsing import ParseRejected, parse
from streams.records import ContentType, ParsedArticle, RawArticle

FIXED_S = 2.0  # imports and model-free set-up of the first HTML page, with room for a busy machine
PER_KB_S = 0.010  # 10 ms per KB of input

SENTENCE = "The minister said on Tuesday that the talks in Astana would go on. "


def budget(size: int) -> float:
    """Seconds the parse stage may take on ``size`` bytes of input."""
    return FIXED_S + PER_KB_S * size / 1024


def parse_within_budget(content: bytes | str, content_type: ContentType | None = None) -> ParsedArticle | ParseRejected:
    """Parse ``content``; fail unless it returns a record or raises ParseRejected within :func:`budget`.

    Returns the record or the rejection.
    """
    size = len(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    started = time.perf_counter()
    try:
        outcome: ParsedArticle | ParseRejected = parse(RawArticle(content=content, content_type=content_type))
    except ParseRejected as exc:
        outcome = exc
    took = time.perf_counter() - started
    assert took <= budget(size), f"parse took {took:.1f} s on {size} bytes; the bound is {budget(size):.1f} s"
    if isinstance(outcome, ParsedArticle):
        assert outcome.word_count >= 5 and outcome.body.strip(), outcome
        assert len(outcome.id) == 32 and int(outcome.id, 16) >= 0
    else:
        assert outcome.reason in (
            "empty input",
            "binary input",
            "undecodable input",
            "no article text",
            "markup nested too deeply",
        ), outcome
    return outcome


def html_page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head><title>A page</title>{head}</head><body>{body}</body></html>"


def families(size: int) -> dict[str, tuple[bytes | str, ContentType | None]]:
    """Pathological inputs of about ``size`` bytes: ``{name: (content, content_type)}``.

    Each was slow (quadratic or worse), wrong or an exception before the fix
    named in the tests, or stands for a class of input an attacker controls:
    runs of one character, deep nesting, one huge line, invalid UTF-8,
    surrogates, NULs, many elements of the kinds libxml2's XPath unions merge.
    """
    n = size
    words = " ".join(f"word{i}" for i in range(300))
    return {
        "brackets": (b"[" * n, None),
        "nested brackets": (b"[" * (n // 2) + b"]" * (n // 2), "text"),
        "punctuation and words": (b"[a] " * (n // 4), "text"),
        "dots": (b"." * n, "text"),
        "angle brackets": (b"<" * n, None),
        "date then spaces": (b"Date" + b" " * n + b"x\n" + SENTENCE.encode() * 5, "text"),
        "byline then tabs": (b"By" + b"\t" * (n // 4) + b" Jane Doe\n" + SENTENCE.encode() * 5, "text"),
        "text by then spaces": (b"Text by" + b" " * n + b"x\n" + SENTENCE.encode() * 5, "text"),
        "tag list": ("Tags: " + ", ".join(f"tag{i}" for i in range(n // 9)) + "\n" + SENTENCE * 5, "text"),
        "no-break spaces": ("Date" + "\u00a0" * (n // 2) + "x", "text"),
        "many bylines": (b"By Jane Doe\n" * (n // 12), "text"),
        "many short lines": (b"- x\n" * (n // 4), "text"),
        "one line of words": (b"word " * (n // 5), "text"),
        "cjk": ("中" * (n // 3), "text"),
        "combining marks": ("a" + "\u0301" * (n // 2), "text"),
        "invalid utf-8": (b"word \xc3 " * (n // 8), "text"),
        "encoded surrogates": (b"word \xed\xa0\x80 " * (n // 9), "text"),
        "lone surrogate str": ("word \ud800 " * (n // 7), "text"),
        "nul bytes": (b"word \x00 " * (n // 7), None),
        "deep divs": (html_page("<div>" * (n // 5)), "html"),
        "deep divs with words": (html_page("<div>" * (n // 11) + words + "</div>" * (n // 11)), "html"),
        "deep inline": (html_page("<b>" * (n // 3)), "html"),
        "deep lists": (html_page("<ul><li>word " * (n // 13)), "html"),
        "deep same-class containers": (html_page(('<div class="a"><p>' + SENTENCE + "</p>") * (n // 90)), "html"),
        "flat links": (html_page("<a href=x>" * (n // 10)), "html"),
        "union bait": (html_page("<button>x</button><select></select><nav>y</nav>" * (n // 45)), "html"),
        "paragraphs with links": (html_page(f"<p>{SENTENCE}<a href=x>link</a> more.</p>" * (n // 100)), "html"),
        "html one paragraph": (html_page("<p>" + "word " * (n // 5) + "</p>"), "html"),
        "entities": (html_page("<p>" + "&amp;" * (n // 5) + "</p>"), "html"),
        "bad entities": (html_page("<p>" + "&#0;&#x10FFFF;&#xD800;" * (n // 22) + "</p>"), "html"),
        "unclosed comment": (html_page("<!--" * (n // 4)), "html"),
        "unclosed attribute": (b'<html><body><div class="' + b"x" * n, "html"),
        "meta tags": (
            html_page("<p>word word word word word word.</p>", '<meta name="date" content="x">' * (n // 31)),
            "html",
        ),
        "meta content of <": (
            html_page("<p>" + SENTENCE * 5 + "</p>", '<meta name="date" content="' + "<" * n + '">'),
            "html",
        ),
        "meta author of (": (
            html_page("<p>" + SENTENCE * 5 + "</p>", '<meta name="author" content="' + "(" * n + '">'),
            "html",
        ),
        "json-ld strings of <": (
            html_page(
                "<p>" + SENTENCE * 5 + "</p>",
                '<script type="application/ld+json">{"@type": "NewsArticle", "author": {"name": "'
                + "<" * n
                + '"}, "headline": "<!--' * 3
                + '"}</script>',
            ),
            "html",
        ),
        "broken json-ld": (
            html_page(
                "<p>" + SENTENCE * 5 + "</p>",
                '<script type="application/ld+json">{' + '"author":' * (n // 9) + "</script>",
            ),
            "html",
        ),
        "bad canonical port": (
            html_page("<p>" + SENTENCE * 10 + "</p>", '<link rel="canonical" href="http://a.example:99999/x">'),
            "html",
        ),
        # the extraction rewrite's paths: lines a dump broke, rejoined (")" lines: 18 s
        # for 32 KB, quadratic); the vote's support of one-word lines (10 s for 128 KB)
        "closing punctuation lines": (SENTENCE + "\n" + ")\n" * (n // 2), "text"),
        "open quote lines": ('word "\n' * (n // 7), "text"),
        "pre of one-word lines": (
            html_page(
                "<article><p>"
                + SENTENCE * 5
                + "</p><pre>"
                + "".join(f"w{i}\n" for i in range(n // 7))
                + "</pre></article>"
            ),
            "html",
        ),
        # trafilatura's author-name patterns on a JSON-LD name of "(" (valid JSON): 168 s at 128 KB
        "json-ld author of (": (
            html_page(
                "<p>" + SENTENCE * 5 + "</p>",
                '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", "author": {"@type": "Person", "name": "'
                + "(" * n
                + '"}}</script>',
            ),
            "html",
        ),
        "nested figures": (
            html_page("<figure>" * 200 + "<figcaption>" + "ab " * (n // 3) + "</figcaption>" + "</figure>" * 200),
            "html",
        ),
        "nested tag boxes": (
            html_page(
                '<article><div class="tags">' * 120 + "<a href=x>" + "t " * (n // 2) + "</a>" + "</div></article>" * 120
            ),
            "html",
        ),
        "bad canonical host": (
            html_page("<p>" + SENTENCE * 10 + "</p>", '<link rel="canonical" href="http://[::1/x">'),
            "html",
        ),
    }


def timed(fn, *args):
    """Return ``(result, seconds)`` of ``fn(*args)``."""
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started
