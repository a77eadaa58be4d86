"""Teams in rows of results and standings (texts written for these tests)."""

from __future__ import annotations

from streams.enrichment import enrich
from streams.enrichment.gazetteer import gazetteer
from streams.enrichment.tables import team_mentions
from streams.records import ParsedArticle

RESULTS = """LONDON 2024-03-02

Results of English league matches on Saturday:

Bradford 1 Tranmere 0

Grimsby 0 Portsmouth 1

Leicestershire 296 and 174-3

Romania 2 Lithuania 1

Gold 380.50 381.20 379.90"""


def _labels(nlp, body: str) -> dict[str, str]:
    article = ParsedArticle(id="t", title="Results", body=body, content_type="text", language="en")
    return {e["name"]: e["label"] for e in enrich(article, nlp).entities}


def test_clubs_in_results_rows_are_organisations(nlp):
    got = _labels(nlp, RESULTS)
    for club in ("Bradford", "Tranmere", "Grimsby", "Leicestershire"):
        assert got.get(club) == "ORG", (club, got)
    assert got.get("Romania") == "GPE" and got.get("Lithuania") == "GPE"  # national sides are places
    assert "Gold" not in got  # a common word in a commodities row
    assert got.get("London") == "GPE"  # the dateline is no row of results


def test_no_teams_in_rows_of_players_or_prose(nlp):
    doc = nlp(
        "Leading scores after the first round:\n\n"
        "P. Simmons 68 70\n\n"
        "Tiger Woods 66 71\n\n"
        "Bradford said the club would sign 2 players this week."
    )
    assert [m.name for m in team_mentions(doc, "body", 0, gazetteer())] == []
