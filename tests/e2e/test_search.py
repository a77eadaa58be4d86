"""`newsstream search` on the real Elasticsearch (issue 17, point 3): simple_query_string (phrases, +/-, |,
prefix*, boosts), field:value, AND/OR/NOT, every filter, sort, the plain and JSON output."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from typer.testing import CliRunner

from indexers.elasticsearch.client import async_client, sync_client
from indexers.elasticsearch.template import ensure_index
from indexers.elasticsearch.writer import BulkWriter, to_document
from streams.cli import app
from streams.records import EnrichedArticle

runner = CliRunner()


def _article(id_: str, title: str, body: str, **fields) -> EnrichedArticle:
    return EnrichedArticle(**{"content_type": "html", "language": "en", **fields}, id=id_, title=title, body=body)


ARTICLES = [
    _article(
        "final",
        "Nadal leads Spain to Davis Cup title",
        "Rafael Nadal won the deciding match as Spain lifted the Davis Cup in Madrid on Sunday.",
        url="https://reuters.example/sport/davis-cup-final",
        publisher="Reuters",
        authors=["Jane Doe"],
        published_at="2019-11-24T21:30:00Z",
        persons=["Rafael Nadal"],
        organizations=["International Tennis Federation"],
        places=["Madrid"],
        countries=["ES"],
        keywords=["davis cup final"],
        tags=["Tennis"],
    ),
    _article(
        "coach",
        "Spain's coach speaks after the final",
        "Sergi Bruguera said Davis had never seen a cup won like this; Nadal was tired but happy.",
        url="https://ap.example/coach",
        publisher="AP",
        authors=["John Roe"],
        published_at="2019-11-25",
        persons=["Sergi Bruguera", "Rafael Nadal"],
        organizations=["Royal Spanish Tennis Federation"],
        places=["Madrid"],
        countries=["ES"],
        tags=["Tennis"],
    ),
    _article(
        "reversed",
        "A trophy with a long name",
        "Collectors of the world cup davis trophy replicas met in Boston.",
        publisher="Collectors Weekly",
        published_at="2019-11-20",
        places=["Boston"],
        countries=["US"],
        tags=["Collecting"],
    ),
    _article(
        "french",
        "Nadal offre la coupe à l'Espagne",
        "Rafael Nadal a remporté le match décisif et l'Espagne a gagné la coupe Davis à Madrid.",
        publisher="Le Monde",
        language="fr",
        published_at="2019-11-26",
        persons=["Rafael Nadal"],
        countries=["ES"],
        tags=["Tennis"],
    ),
    _article(
        "ferry",
        "Lisbon [bold]opens[/bold] a ferry terminal",
        "The port authority of Lisbon and the city opened a new ferry terminal.",
        publisher="Lusa",
        published_at="2024-06-01",
        places=["Lisbon"],
        countries=["PT"],
        tags=["Ferries"],
    ),
]


@pytest.fixture
def indexed(pipeline_env):
    env, settings, _ = pipeline_env
    ensure_index(sync_client(settings), settings.index_alias)

    async def write():
        client = async_client(settings)
        result = await BulkWriter(client, settings.index_alias).write(
            [to_document(a.to_dict(), "2026-11-30T00:00:00+00:00") for a in ARTICLES]
        )
        await client.close()
        assert result.indexed == len(ARTICLES)

    asyncio.run(write())
    sync_client(settings).indices.refresh(index=settings.index_alias)
    return env


def _ids(env, *args) -> list[str]:
    result = runner.invoke(app, ["search", *args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return [orjson.loads(line)["id"] for line in result.stdout.splitlines()]


def _set(env, *args) -> set[str]:
    return set(_ids(env, *args))


def test_query_language(indexed):
    env = indexed
    # phrases are phrases: word order matters
    assert _set(env, '"Davis Cup"') == {"final"}
    assert _set(env, '"cup davis"') == {"reversed"}
    # every word must match; AND is the same, OR and | widen, - and NOT exclude
    assert _set(env, "Davis Cup") == {"final", "coach", "reversed"}
    assert _set(env, "Davis AND Cup") == {"final", "coach", "reversed"}
    assert _set(env, "Davis + Cup") == {"final", "coach", "reversed"}
    assert _set(env, "trophy OR ferry") == {"reversed", "ferry"}
    assert _set(env, "trophy | ferry") == {"reversed", "ferry"}
    assert _set(env, "Davis -Nadal") == {"reversed"}
    assert _set(env, "Davis NOT Nadal") == {"reversed"}
    # field:value and field:"phrase"
    assert _set(env, "title:Nadal") == {"final", "french"}
    assert _set(env, "Nadal -title:Nadal") == {"coach"}
    assert _set(env, 'person:"Sergi Bruguera"') == {"coach"}
    assert _set(env, "org:federation") == {"final", "coach"}
    assert _set(env, 'publisher:"collectors weekly"') == {"reversed"}
    # prefixes
    assert _set(env, "Nad*") == {"final", "coach", "french"}
    assert _set(env, "ferr*") == {"ferry"}
    # fields and boosts: title only; a title match outweighs a body match
    assert _set(env, "Nadal", "--field", "title") == {"final", "french"}
    assert _ids(env, "Nadal", "--field", "title^5", "--field", "body")[-1] == "coach"
    assert _set(env, "*") == {a.id for a in ARTICLES}


def test_filters_and_sort(indexed):
    env = indexed
    assert _set(env, "--person", "rafael nadal") == {"final", "coach", "french"}
    assert _set(env, "--person", "Rafael Nadal", "--person", "Sergi Bruguera") == {"coach"}
    assert _set(env, "--org", "International Tennis Federation") == {"final"}
    assert _set(env, "--place", "madrid") == {"final", "coach"}
    assert _set(env, "--country", "es") == {"final", "coach", "french"}
    assert _set(env, "--tag", "collecting") == {"reversed"}
    assert _set(env, "--publisher", "reuters") == {"final"}
    assert _set(env, "--language", "fr") == {"french"}
    assert _set(env, "--author", "jane doe") == {"final"}
    assert _set(env, "--since", "2019-11-25") == {"coach", "french", "ferry"}
    assert _set(env, "--until", "2019-11-24") == {"final", "reversed"}  # the whole day of the 24th
    assert _set(env, "--since", "2019-11-25", "--until", "2019-11-25") == {"coach"}
    assert _set(env, "--since", "2019-11-24T22:00:00Z", "--until", "2019-11-25T23:59:59Z") == {"coach"}
    assert _ids(env, "--sort", "date") == ["ferry", "french", "coach", "final", "reversed"]
    assert _ids(env, "Nadal", "--country", "ES", "--sort", "date") == ["french", "coach", "final"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2019-11-31"], "--since must be a date as YYYY-MM-DD (or YYYY-MM-DDTHH:MM:SS), not '2019-11-31'"),
        (["--until", "yesterday"], "--until must be a date as YYYY-MM-DD"),
        (["--since", "2019-11-24 and more"], "--since must be a date"),
        (["--language", "english"], "--language must be an ISO 639-1 code such as en, not 'english'"),
        (["--country", "Spain"], "--country must be an ISO 3166-1 alpha-2 code such as KZ, not 'Spain'"),
        (["--sort", "newest"], "--sort must be relevance or date, not 'newest'"),
    ],
)
def test_bad_options_are_one_line(args, message):
    result = runner.invoke(app, ["search", "x", *args])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {message}") and result.stderr.count("\n") == 1


def test_plain_output_and_json(indexed):
    env = indexed
    text = runner.invoke(app, ["search", '"Davis Cup"'], env=env).stdout
    assert text.splitlines()[0] == "1 hit(s)"
    assert "Nadal leads Spain to Davis Cup title" in text
    assert "url:       https://reuters.example/sport/davis-cup-final" in text
    assert "published: 2019-11-24T21:30:00Z   publisher: Reuters   id: final" in text
    assert "orgs:      International Tennis Federation" in text
    assert "persons:   Rafael Nadal" in text and "countries: ES" in text
    assert "«Davis» «Cup»" in text or "«Davis Cup»" in text
    # user text is shown as it is, never read as markup
    ferry = runner.invoke(app, ["search", "ferry"], env=env).stdout
    assert "Lisbon [bold]opens[/bold] a ferry terminal" in ferry

    [hit] = [
        orjson.loads(line)
        for line in runner.invoke(app, ["search", '"Davis Cup"', "--json"], env=env).stdout.splitlines()
    ]
    expected = {k: v for k, v in ARTICLES[0].to_dict().items() if k not in ("body", "extra") and v is not None}
    assert {k: hit[k] for k in expected} == expected
    assert "body" not in hit and hit["extra"] == {} and hit["ingested_at"].startswith("2026-11-30")
    assert {"keywords", "authors", "language", "url", "publisher", "organizations"} <= hit.keys()
    [with_body] = [
        orjson.loads(line)
        for line in runner.invoke(app, ["search", '"Davis Cup"', "--json", "--body"], env=env).stdout.splitlines()
    ]
    assert with_body["body"] == ARTICLES[0].body
