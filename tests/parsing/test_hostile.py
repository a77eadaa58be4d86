"""Hostile input never stops the parse stage (issue 20): linear time, bounded
trees, and always a record or a rejection with a reason.

The time bound is stated in :mod:`tests.parsing.hostile` (``budget``): it
tells linear from quadratic by a wide margin, it is not a speed target (those
are in ``bench/hostile_parse.py``).
"""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest
from lxml.html import fromstring

from streams.parsing import ParseRejected, parse
from streams.parsing.core import MAX_CAPTION_CHARS, MAX_TITLE_CHARS, cut
from streams.parsing.defuse import MAX_META_CHARS, defuse_metadata, strip_markup
from streams.parsing.markup import MAX_ELEMENTS, drop_keeping_tails, flatten
from streams.parsing.words import word_count
from streams.records import ParsedArticle, RawArticle
from tests.parsing.hostile import SENTENCE, budget, families, html_page, parse_within_budget, timed
from tests.parsing.parsing_paths import REPO

SIZE = 128 * 1024
FAMILIES = families(SIZE)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_each_family_is_a_record_or_a_rejection_within_the_budget(name):
    content, content_type = FAMILIES[name]
    parse_within_budget(content, content_type)


def test_word_count_is_linear_on_punctuation_runs():
    # \S*\w\S* retried every start inside a run: "[" * 32000 took 13.6 s
    count, took = timed(word_count, "[" * 200_000)
    assert count == 0 and took < 1.0
    count, took = timed(word_count, "[a] " * 50_000)
    assert count == 50_000 and took < 1.0
    assert word_count("It's 3 o'clock -- “quoted” (x) [y] ... !!! a_b") == 7


@pytest.mark.parametrize(
    "line",
    [
        "Date" + " " * 50_000 + "x",  # _DATE_LINE's \s*:?\s*: 83 s at 8,000 spaces
        "Text by" + " " * 50_000 + "x",  # _TEXT_BY's lazy .+?\s*$
        "By" + "\t" * 50_000 + "Jane Doe",  # the byline and name separators
        "Tags: " + " " * 50_000 + "a",
        "More in" + " " * 50_000 + "]",  # _FURNITURE_WHOLE's \s+ and [\w&' -]{1,30}: 7 s at 4,000 spaces
    ],
)
def test_whitespace_runs_in_a_line_are_linear(line):
    content = line + "\n" + SENTENCE * 5
    outcome = parse_within_budget(content, "text")
    assert isinstance(outcome, ParsedArticle) and "talks in Astana" in outcome.body


def test_a_page_nested_50000_divs_deep_holds_its_300_words():
    words = " ".join(f"word{i}" for i in range(300))
    page = html_page("<div>" * 50_000 + "<p>" + words + ".</p>" + "</div>" * 50_000)
    parsed = parse_within_budget(page, "html")
    assert isinstance(parsed, ParsedArticle), parsed  # was "no article text: 0 words of body"
    assert parsed.word_count == 300 and parsed.body.startswith("word0 word1")


def test_flatten_unwraps_below_the_limit_and_keeps_text_and_paragraphs():
    page = "<div>" * 5 + "<p>one</p><span>two</span><p>three<br>four</p>" + "</div>" * 5 + "<i>after</i>"
    flat = flatten(page, max_nesting=3)
    assert flat.count("<div>") == 3 and flat.count("</div>") == 3
    assert "<p>one</p>" in flat and "<br>" in flat and "<span>" not in flat
    assert "<i>after</i>" in flat  # outside the deep part: untouched
    assert " ".join(flat.replace("<", " <").split()).count("two") == 1
    assert flatten("<div><p>shallow</p></div>") == "<div><p>shallow</p></div>"


def test_drop_keeping_tails_moves_each_tail_once():
    tree = fromstring("<div><p>a</p><nav>x</nav>t1<nav>y</nav>t2<p>b</p></div>")
    drop_keeping_tails(tree.findall(".//nav"))
    assert [el.tag for el in tree] == ["p", "p"]
    assert tree[0].tail == "t1t2" and tree.text_content() == "at1t2b"


def test_nested_same_class_containers_do_not_repeat_the_text():
    # every level of nesting read the paragraphs inside it again: 64 KB gave 128,000 words
    page = html_page(('<div class="a"><p>' + SENTENCE + "</p>") * 250)
    parsed = parse_within_budget(page, "html")
    assert isinstance(parsed, ParsedArticle)
    assert parsed.word_count <= 250 * word_count(SENTENCE)


def test_union_bait_is_bounded():
    # //button | //select | //nav on 22,000 of each: minutes in libxml2's node-set merge
    page = html_page("<button>x</button><select></select><nav>y</nav>" * 22_000 + "<p>" + SENTENCE * 10 + "</p>")
    parsed = parse_within_budget(page, "html")
    assert isinstance(parsed, ParsedArticle) and "talks in Astana" in parsed.body


def test_a_page_of_more_elements_than_trafilatura_reads_is_read_as_page_text():
    # trafilatura's //p//text() on 48,000 paragraphs holding a link each: over 2 minutes
    paragraphs = "".join(f"<p>Paragraph {i}: {SENTENCE}<a href=x>link</a> more.</p>" for i in range(48_000))
    head = '<meta property="og:title" content="The long page"><link rel="canonical" href="https://news.example/long">'
    parsed = parse_within_budget(html_page(paragraphs, head), "html")
    assert isinstance(parsed, ParsedArticle)
    assert MAX_ELEMENTS < 48_000
    assert parsed.title == "The long page"
    assert "Paragraph 47999: The minister said" in parsed.body
    assert parsed.word_count > 48_000 * 12


def test_one_8_mb_line():
    line = b"[a] " * (2 * 1024 * 1024)
    assert len(line) == 8 * 1024 * 1024
    parse_within_budget(line, "text")


def test_a_6_mb_page_in_time_and_memory():
    """A fresh interpreter parses a 6 MB article page (6,000 paragraphs with
    links): within the budget, and its peak resident memory under 400 MiB
    (measured 140-160 MiB; the campaign's worker reached 1,373 MiB)."""
    script = f"""
import time
from streams.parsing import parse
from streams.records import RawArticle
para = "<p>" + {SENTENCE!r} * 14 + "<a href=x>a link</a> and more words.</p>"
page = "<html><head><title>Big</title></head><body><article>" + para * 6000 + "</article></body></html>"
assert 5.5e6 < len(page) < 6.5e6, len(page)
t = time.perf_counter()
parsed = parse(RawArticle(content=page.encode(), content_type="html"))
took = time.perf_counter() - t
peak_kib = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
print(took, peak_kib // 1024, parsed.word_count)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    seconds, peak_mib, words = done.stdout.split()
    assert float(seconds) <= budget(6 * 1024 * 1024), seconds
    assert int(peak_mib) < 400, peak_mib
    assert int(words) > 1000


def test_a_lone_surrogate_in_str_content_is_undecodable():
    with pytest.raises(ParseRejected) as info:
        parse(RawArticle(content=SENTENCE * 3 + "\ud800", content_type="text"))
    assert info.value.reason == "undecodable input" and "U+D800" in str(info.value)


@pytest.mark.parametrize("href", ["http://a.example:99999/x", "http://[::1/x", "http:///x"])
def test_a_canonical_link_that_is_no_url_is_ignored(href):
    page = html_page("<p>" + SENTENCE * 10 + "</p>", f'<link rel="canonical" href="{href}">')
    parsed = parse_within_budget(page, "html")
    assert isinstance(parsed, ParsedArticle) and parsed.url is None


def test_strip_markup_removes_tags_and_stray_angle_brackets_in_linear_time():
    assert strip_markup("<b>Jane</b> Doe") == "Jane Doe"
    assert strip_markup("a < b and c > d") == "a  d"
    assert strip_markup("x <<<< y") == "x  y"
    assert strip_markup("no tags") == "no tags"
    # trafilatura's (<!--.*?-->|<[^>]*>) took 95 s on 256 KB of "<" in one meta content
    stripped, took = timed(strip_markup, "<" * 1_000_000)
    assert stripped == "" and took < 1.0


def test_defuse_metadata_keeps_what_trafilatura_would_read():
    body = "<p>" + "word " * 1000 + "</p>"
    tree = fromstring(
        '<html><head><meta name="author" content="<b>Jane Doe</b>">'
        '<meta name="description" content="Jane <<<< Doe">'
        '<meta name="keywords" content="' + "k, " * 1000 + '">'
        '<script type="application/ld+json">{"headline": "A <em>big</em> day", "n": 1}</script>'
        '<script type="application/ld+json">{"author": {"name": "Jane <Doe"}, "articleBody": "'
        + body
        + '", "about": "'
        + "(" * 3000
        + '"}</script>'
        '<script type="application/ld+json">{"broken": ' + "x" * 5000 + "</script>"
        '<script type="application/ld+json">{"small": "broken"</script>'
        "</head><body><p>x</p></body></html>"
    )
    defuse_metadata(tree)
    metas = [m.get("content") for m in tree.iter("meta")]
    # closed tags cost trafilatura's tag pattern a linear scan: left for it to strip
    assert metas[0] == "<b>Jane Doe</b>"
    assert metas[1] == "Jane  Doe"  # stray "<": each one scanned to the end of the text
    assert metas[2] == ("k, " * 1000)[:MAX_META_CHARS]
    scripts = [orjson.loads(s.text) if s.text.endswith("}") else s.text for s in tree.iter("script")]
    assert scripts == [
        {"headline": "A <em>big</em> day", "n": 1},
        {"author": {"name": "Jane Doe"}, "articleBody": body, "about": "(" * MAX_META_CHARS},
        '{"small": "broken"',
    ]
    first = next(tree.iter("script")).text
    assert first == '{"headline": "A <em>big</em> day", "n": 1}'  # untouched, byte for byte


def test_a_huge_title_caption_and_credit_are_cut_in_the_record():
    figure = (
        "<figure><img src=x><figcaption>" + "A ferry crosses the river in Lisbon " * 2000 + "</figcaption></figure>"
    )
    page = (
        "<html><head><title>" + "Ferry talks " * 50_000 + "</title></head>"
        "<body><article>" + figure + "<p>" + SENTENCE * 10 + "</p></article></body></html>"
    )
    parsed = parse_within_budget(page, "html")
    assert isinstance(parsed, ParsedArticle)
    assert parsed.title is not None and len(parsed.title) <= MAX_TITLE_CHARS and parsed.title.endswith("talks…")
    assert parsed.image_caption is not None and len(parsed.image_caption) <= MAX_CAPTION_CHARS
    assert cut("short", 10) == "short" and cut("one two three", 10) == "one two…" and cut(None, 3) is None
