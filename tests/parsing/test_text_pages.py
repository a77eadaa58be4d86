"""Plain-text pages: titles, dates, wire copy (datelines, results, tables) and short texts.

Every text here is written for these tests.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from streams.parsing import ParseRejected, parse
from streams.parsing.text import extract_text
from streams.parsing.texttitle import TITLE_RULES
from streams.records import RawArticle, decode_raw

PROSE = (
    "The regional council approved the new tram line on Monday after a debate that lasted four hours.",
    "Work on the first section, between the station and the hospital, will start in the spring.",
    "Residents of the old town had asked for a route that avoids the market square and its stalls.",
    "The council expects the whole line to carry thirty thousand passengers a day when it opens.",
)
HEADLINE = "Council approves tram line through the old town"


def text(content: str):
    return parse(RawArticle(content=content, content_type="text"))


def page(*before: str, after: tuple[str, ...] = ()) -> str:
    return "\n\n".join([*before, *PROSE, *after]) + "\n"


@pytest.mark.parametrize(
    "junk",
    [
        "Skip Navigation",
        "Open Navigation Menu",
        '<img height="1" width="1" style="display:none" src="https://pixel.example.com/p?c=1">',
        "Image 1 of 23",
        "Dow Jones, a News Corp company",
        "Facebook Twitter Email LinkedIn Reddit",
        "Copy this link",
    ],
)
def test_navigation_and_widgets_are_never_the_title(junk):
    assert text(page(junk, HEADLINE, "By Jane Doe", junk)).title == HEADLINE
    assert text(page(HEADLINE, junk)).title == HEADLINE
    assert junk not in text(page(HEADLINE, junk)).body


def test_the_headline_is_the_line_the_article_talks_about():
    """Between the headline and the body: a credit without "By", a time stamp,
    a breadcrumb and a widget label; before it, a teaser for another story."""
    before = (
        "Storm closes ski resorts across the Alps",
        "Home > Region > Transport",
        HEADLINE,
        "Jane Doe, Staff Reporter",
        "Published Tue, Nov 19 2019 7:05 AM EST",
        "Why you can trust Example News",
    )
    article = text(page(*before))
    assert article.title == HEADLINE
    assert article.published_at == "2019-11-19"
    assert article.body.startswith(PROSE[0])


def test_text_title_equals_the_html_title_of_the_same_page():
    paragraphs = "".join(f"<p>{p}</p>" for p in PROSE)
    html = (
        f'<html><head><meta property="og:title" content="{HEADLINE} | Example News"><title>{HEADLINE}</title></head>'
        f'<body><div class="menu"><a href="/">Home</a> <a href="/news">News</a></div>'
        f"<article><h1>{HEADLINE}</h1><p class=byline>By Jane Doe</p>{paragraphs}</article></body></html>"
    )
    dump = page("Home News", HEADLINE, "By Jane Doe")
    from_html = parse(RawArticle(content=html, content_type="html", url="https://example.com/tram"))
    assert from_html.title == text(dump).title == HEADLINE


def test_dates_never_come_from_a_copyright_line_a_bare_year_or_the_articles_prose():
    article = text(
        page(
            "© 2019 Example News. All rights reserved.",
            "Archive 2018",
            HEADLINE,
            after=("The line was first proposed on March 3, 2011, and shelved twice.",),
        )
    )
    assert article.published_at is None  # no date beats a wrong date
    assert text(page(HEADLINE, "November 19, 2019 | 8:03 am")).published_at == "2019-11-19"
    assert text(page(HEADLINE, "Текст: Анна Петрова · 24 сентября 2018")).published_at == "2018-09-24"


RESULTS = """SOCCER - UNITED HELD AT HOME AS LEADERS STRETCH CLEAR
MANCHESTER, England 2024-03-02
Manchester United were held to a 1-1 draw by Blackburn Rovers at Old Trafford on Saturday, a result that leaves them four points behind the leaders.
Rovers went ahead through a header after 20 minutes before United equalised from the penalty spot early in the second half.
Results of first division matches on Saturday:
Manchester United 1 Blackburn 1
Arsenal 2 Chelsea 0
Leeds 0 Everton 3
Standings (tabulated under played, won, drawn, lost, goals for, against, points):
Liverpool 28 19 6 3 61 22 63
Arsenal 28 18 6 4 55 25 60
Manchester United 28 17 8 3 50 27 59
"""

LEADERBOARD = """GOLF - WOODS TWO AHEAD AT AUGUSTA
AUGUSTA, Georgia 2024-04-12
Leading scores after the second round of the Masters on Friday:
1. Tiger Woods (U.S.) 68 66 134
2. Ernie Els (South Africa) 70 66 136
3. Nick Faldo (Britain) 69 68 137
4. Greg Norman (Australia) 71 67 138
"""

DATELINE = """UK inflation rises for third month
LONDON, March 3 (Reuters) - British consumer price inflation rose for the third month running in February, official figures showed on Tuesday, as higher energy bills fed through to households.
The Office for National Statistics said prices were 3.4 percent higher than a year earlier, up from 3.2 percent in January.
"""


def test_wire_copy_results_and_standings_are_body():
    article = text(RESULTS)
    assert article.title == "SOCCER - UNITED HELD AT HOME AS LEADERS STRETCH CLEAR"
    assert article.published_at == "2024-03-02"
    lines = article.body.split("\n\n")
    assert lines[0] == "MANCHESTER, England 2024-03-02"  # the dateline is news, not furniture
    for row in (
        "Arsenal 2 Chelsea 0",
        "Leeds 0 Everton 3",
        "Liverpool 28 19 6 3 61 22 63",
        "Manchester United 28 17 8 3 50 27 59",
    ):
        assert row in lines, row
    assert len(lines) == 11


def test_wire_copy_list_of_results_keeps_its_ranks():
    article = text(LEADERBOARD)
    assert article.body.split("\n\n")[-4:] == [
        "1. Tiger Woods (U.S.) 68 66 134",
        "2. Ernie Els (South Africa) 70 66 136",
        "3. Nick Faldo (Britain) 69 68 137",
        "4. Greg Norman (Australia) 71 67 138",
    ]


def test_wire_copy_dateline_stays_in_the_first_paragraph():
    article = text(DATELINE)
    assert article.title == "UK inflation rises for third month"
    assert article.body.startswith("LONDON, March 3 (Reuters) - British consumer price inflation rose")


def test_the_readme_kcat_message_is_an_article():
    """The README's publishing example: a title and a short sentence."""
    raw = decode_raw(b'{"url":"https://example.org/a","content_type":"text","text":"Title\\n\\nFirst paragraph..."}')
    article = parse(raw)
    assert (article.title, article.body, article.url) == ("Title", "First paragraph...", "https://example.org/a")
    assert text("Breaking\n\nMarkets closed higher.").body == "Markets closed higher."


@pytest.mark.parametrize("content", ["Hello", "Title\n\nMenu", "Home\n\nAdvertisement\n\nSubscribe\n", "Sign up now."])
def test_short_texts_without_a_sentence_are_not_articles(content):
    with pytest.raises(ParseRejected) as info:
        text(content)
    assert info.value.reason == "no article text"


def test_the_headline_is_the_line_above_its_byline_not_a_section_label_or_standfirst():
    """A section label and a teaser above, a standfirst and a caption below:
    the headline is the one a byline and a time stamp follow."""
    before = (
        "Transport",
        "Storm closes ski resorts across the Alps",
        "Transport",
        HEADLINE,
        "By Jane Doe",
        "November 19, 2019 | 8:03 am",
        "Councillors voted after four hours of debate and a petition from the market traders",
    )
    assert text(page(*before)).title == HEADLINE


def test_a_breadcrumb_ending_with_the_headline_yields_to_the_headline():
    before = ("Home News Transport " + HEADLINE, HEADLINE, "November 19, 2019")
    article = text(page(*before))
    assert article.title == HEADLINE
    assert not article.body.startswith("Home News")


def test_a_headline_may_hold_abbreviations_or_end_with_a_full_stop_in_title_case():
    for headline in (
        "New York man pleads guilty to threatening to kill Rep. Jane Roe over council vote",
        "Tram Stock Is Falling After Its Earnings Release. Why You Shouldn't Worry.",
    ):
        assert text(page("Markets", headline, "By Jane Doe")).title == headline


def test_a_table_row_laid_side_by_side_gives_its_first_cell_as_the_title():
    assert text(page(HEADLINE + " " * 40 + "Home", "November 19, 2019")).title == HEADLINE


def test_glued_menu_words_are_no_title():
    """No line shares the article's words or has a byline below it: no title
    beats a junk one."""
    assert text(page("Log inRegister", "Listen Live")).title is None


def test_a_teaser_cut_short_is_no_title():
    teaser = "Council approves tram line through the…"
    assert text(page(teaser, "Weather")).title is None


def test_the_body_begins_and_ends_in_the_articles_text_column():
    """A standfirst and a newsletter box indented otherwise than the article's
    paragraphs (a dump keeps the page's layout) are not body."""
    article = "\n".join(f"            {p}" for p in PROSE)
    box = (
        "                    Stay up to date with Example News and what happens in the old town.\n"
        "                    You have successfully subscribed to the weekly letter. Thank you!\n"
    )
    dump = f"  {HEADLINE}\n  The council's vote ends a decade of debate about the old town and its market.\n{article}\n{box}"
    body = text(dump).body
    assert body.startswith(PROSE[0]) and body.endswith(PROSE[-1])


def _title_with_rules(content: str, **rules) -> str | None:
    return extract_text(content, title_rules=replace(TITLE_RULES, **rules)).title


def test_a_topic_label_whose_words_the_headline_holds_yields_to_the_headline():
    """A label ("The Old Town Tram") above the headline: every word of it is
    in a headline twice as long, five lines away at most."""
    content = page("The Old Town Tram", "By Example News", HEADLINE, "By Jane Doe | Example News")
    assert text(content).title == HEADLINE
    assert _title_with_rules(content, label=0.0) == "The Old Town Tram"  # what the label's cost changes


def test_a_headline_opening_with_its_series_name_keeps_it():
    """A headline holding a kicker at its start is no breadcrumb (a breadcrumb
    ends with the headline): the kicker on a line of its own is not the title."""
    headline = "The Old Town Tram Week: " + HEADLINE
    content = page(headline, "November 19, 2019 / by Jane Doe", "The Old Town Tram Week")
    assert text(content).title == headline


def test_a_caption_above_its_photo_credit_is_not_the_title():
    """A line, then a credit ("Jane Roe, Example Photo Agency") right above
    the prose and no date: a photo's caption, however many words it shares."""
    caption = ("The council tram line in the old town", "Jane Roe, Example Photo Agency")
    content = page(HEADLINE, "Example News wire services", "November 19, 2019", *caption)
    assert text(content).title == HEADLINE
    assert _title_with_rules(content, captions=False) == "The council tram line in the old town"


CYCLING = """CYCLING - TOUR OF FLANDERS FINAL STANDINGS.
Ann Dupont
GHENT, Belgium 2024-04-07
Leading results of the 260-km final stage of the race
between Bruges and Ghent on Sunday:
1. Piet Janssens (Belgium) Team Nord 6 hours 12 mins 4 seconds
2. Marco Bellini (Italy) Squadra Sud 5 seconds behind
3. Lars Holm (Denmark) Team Nord same time
Final overall placings:
1. Piet Janssens (Belgium) Team Nord 24:36:54
2. Lars Holm (Denmark) Team Nord 2 seconds behind
"""


def test_wire_copy_is_the_story_from_its_dateline_to_the_end():
    # headline, byline, dateline: agency copy as the wire sends it. A ranked list
    # after a lead-in with a colon, with no sentence and few numbers per row, is
    # the story (it used to end after the first rank, leaving the other riders out)
    article = text(CYCLING)
    assert article.title == "CYCLING - TOUR OF FLANDERS FINAL STANDINGS."
    assert article.authors == ["Ann Dupont"]
    lines = article.body.split("\n\n")
    assert lines[0] == "GHENT, Belgium 2024-04-07"
    assert lines[-1] == "2. Lars Holm (Denmark) Team Nord 2 seconds behind"
    assert "3. Lars Holm (Denmark) Team Nord same time" in lines
    # the lead-in wrapped over two lines is one paragraph; each rank its own
    assert lines[1] == "Leading results of the 260-km final stage of the race between Bruges and Ghent on Sunday:"
    assert len(lines) == 8


def test_a_short_wire_result_is_an_article():
    # two lines of text and a score: rejected as "no article text" before
    article = text(
        "BASKETBALL - TOURNAMENT RESULT.\nBELGRADE 2024-03-01\nResult of a tournament on Friday:\nRed Star (Serbia) beat Partizan (Serbia) 92-90 (halftime 47-47)\n"
    )
    assert article.body.endswith("Red Star (Serbia) beat Partizan (Serbia) 92-90 (halftime 47-47)")


WRAPPED_WIRE = """CRICKET - AUSTRALIA WIN TOSS.
COLOMBO 2024-08-30
Australia won the toss and
elected to bat against Sri Lanka in the third limited
overs match on Friday.
Teams:
Australia - Ian Healy (captain), Michael Bevan, Damien
Flemming, Jason Gillespie, Stuart Law, Ricky
Ponting, Mark Waugh.
May 13 Arrive in London
May 14 Practice at Lord's
Somerset 83 and 174 (P. Simmons 4-38), Leicestershire
296 all out
"""


def test_hard_wrapped_lines_are_joined_into_their_paragraph():
    # plain text wrapped mid-sentence: one paragraph, so a name broken over two
    # lines ("Damien / Flemming") is one name for the enrich stage
    paragraphs = text(WRAPPED_WIRE).body.split("\n\n")
    assert paragraphs[:3] == [
        "COLOMBO 2024-08-30",
        "Australia won the toss and elected to bat against Sri Lanka in the third limited overs match on Friday.",
        "Teams:",
    ]
    assert paragraphs[3] == (
        "Australia - Ian Healy (captain), Michael Bevan, Damien Flemming, Jason Gillespie, Stuart Law, "
        "Ricky Ponting, Mark Waugh."
    )
    # short items of a list and a row of data end where they end
    assert paragraphs[4:] == [
        "May 13 Arrive in London",
        "May 14 Practice at Lord's",
        "Somerset 83 and 174 (P. Simmons 4-38), Leicestershire",
        "296 all out",
    ]


def test_paragraphs_apart_are_never_joined():
    body = text(
        "MARKETS - STOCKS RISE.\n"
        "LONDON 2024-08-30\n\n"
        "Stocks rose on Friday as investors bought the shares of banks and\n\n"
        "Another paragraph starts here and it is long enough to be prose.\n\n"
        "And a third paragraph so the page has an article in it at all."
    ).body
    assert body.count("\n\n") == 3, body


@pytest.mark.parametrize(
    "headline",
    [
        "Italy's Dini meets Burundi negotiator Nyerere.",
        "Aw Computer Systems Inc Q2 loss widens.",
        "Britain condemns Iraq involvement in Arbil attack.",
    ],
)
def test_the_line_before_a_wire_dateline_is_the_headline(headline):
    # whatever its case and punctuation; a quote or a table row further down is not it
    article = text(
        f"{headline}\n"
        "ROME 2024-08-31\n"
        "Italian Foreign Minister Lamberto Dini met the mediator on Saturday, his office said.\n"
        '" We condemn the attack on the town.\n'
        "Shr loss $0.22 loss $0.07\n"
    )
    assert article.title == headline
    assert article.body.startswith("ROME 2024-08-31\n\nItalian Foreign Minister")
