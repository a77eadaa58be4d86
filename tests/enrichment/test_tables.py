"""Teams in rows of results and standings (texts written for these tests)."""

from __future__ import annotations

from spacy.tokens import Span

from streams.enrichment import enrich
from streams.enrichment.gazetteer import gazetteer
from streams.enrichment.ner import doc_mentions
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


def test_an_initial_and_surname_is_a_person(nlp):
    # a scorecard names players by initial and surname, tagged or not, as persons;
    # "U.S. Steel" and a sentence's "Group A. The" are not names
    article = ParsedArticle(
        id="t",
        title="Cricket scores",
        body=(
            "Close of play scores in county matches on Friday:\n\n"
            "Chester-le-Street: Glamorgan 259 and 207 (A. Dale 69, H. Morris 69; D. Blenkiron 4-43), "
            "Durham 114 (S. Watkin 4-28) and 81-3.\n\n"
            "Shares of U.S. Steel rose in Group A. The index fell."
        ),
        content_type="text",
        language="en",
    )
    labels = {e["name"]: e["label"] for e in enrich(article, nlp).entities}
    for player in ("A. Dale", "H. Morris", "D. Blenkiron", "S. Watkin"):
        assert labels.get(player) == "PERSON", (player, labels)
    assert not [n for n in labels if n.startswith(("S. Steel", "A. The"))], labels


def test_names_with_a_nation_in_brackets_share_their_kind(nlp):
    # a results table names athletes "Name (Nation)": the one the model calls an
    # organisation among them is an athlete too; a table of clubs keeps its clubs
    def mentions(text, labels):
        doc = nlp.make_doc(text)
        spans, i = [], 0
        for lab in labels:
            while doc[i].text[:1].islower() or not doc[i].text[:1].isalpha():
                i += 1
            end = i
            while doc[end].text != "(":
                end += 1
            spans.append(Span(doc, i, end, label=lab))
            i = end + 3
        doc.ents = spans
        return {m.name: m.cue for m in doc_mentions(doc, "body")}

    athletes = (
        "Florian Rousseau (France) beat Ainars Kiksis (Latvia), Magali Faure (France), "
        "Jens Fiedler (Germany) and Gary Neiwand (Australia)"
    )
    got = mentions(athletes, ["PERSON", "ORG", "PERSON", "PERSON", "PERSON"])
    assert got["Ainars Kiksis"] == "person" and got["Magali Faure"] is None
    # two against two: no side is taken
    got = mentions(athletes, ["PERSON", "ORG", "ORG", "PERSON", "ORG"])
    assert got["Ainars Kiksis"] is None
    clubs = "results: Red Star (Serbia) beat Dinamo (Russia), and Olimpija (Slovenia) beat Cibona (Croatia)"
    got = mentions(clubs, ["ORG", "ORG", "PERSON", "ORG"])
    assert got["Olimpija"] == "org" and got["Red Star"] is None
