"""`newsstream search` filters and `newsstream dlq show|replay`, on the real services."""

from __future__ import annotations

import asyncio

import orjson
from typer.testing import CliRunner

from indexers.elasticsearch.client import async_client, sync_client
from indexers.elasticsearch.template import ensure_index
from indexers.elasticsearch.writer import BulkWriter, to_document
from streams.cli import app
from streams.records import EnrichedArticle

runner = CliRunner()

ARTICLES = [
    EnrichedArticle(
        id="a1",
        body="Antony Blinken met leaders in Astana to discuss trade.",
        content_type="text",
        title="Blinken in Astana",
        published_at="2023-02-28",
        persons=["Antony Blinken"],
        places=["Astana"],
        countries=["KZ"],
        tags=["Kazakhstan", "Diplomacy"],
    ),
    EnrichedArticle(
        id="a2",
        body="The ferry terminal of Lisbon opened; trade with Africa grows.",
        content_type="text",
        title="Lisbon ferry terminal",
        published_at="2024-06-01",
        persons=["Ana Costa"],
        places=["Lisbon"],
        countries=["PT"],
        tags=["Ferries"],
    ),
    EnrichedArticle(
        id="a3",
        body="Trade talks in Moscow ended without agreement.",
        content_type="text",
        title="Moscow talks",
        published_at="2021-01-10",
        persons=["Sergey Lavrov"],
        places=["Moscow"],
        countries=["RU"],
        tags=["Diplomacy"],
    ),
]


def _index(settings) -> None:
    ensure_index(sync_client(settings), settings.index_alias)

    async def write():
        client = async_client(settings)
        await BulkWriter(client, settings.index_alias).write(
            [to_document(a.to_dict(), "2026-11-30T00:00:00+00:00") for a in ARTICLES]
        )
        await client.close()

    asyncio.run(write())
    sync_client(settings).indices.refresh(index=settings.index_alias)


def _search(env, *args) -> list[dict]:
    result = runner.invoke(app, ["search", *args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return [orjson.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_search_filters_and_highlights(pipeline_env):
    env, settings, _ = pipeline_env
    _index(settings)
    assert {h["id"] for h in _search(env, "trade")} == {"a1", "a2", "a3"}
    assert [h["id"] for h in _search(env, "trade", "--person", "antony blinken")] == ["a1"]
    assert [h["id"] for h in _search(env, "trade", "--country", "pt")] == ["a2"]
    assert {h["id"] for h in _search(env, "*", "--tag", "diplomacy")} == {"a1", "a3"}
    assert {h["id"] for h in _search(env, "trade", "--since", "2022-01-01")} == {"a1", "a2"}
    [hit] = _search(env, "ferry")
    assert any("«ferry»" in frag for frag in hit["highlights"])
    text = runner.invoke(app, ["search", "Astana"], env=env)
    assert "Blinken in Astana" in text.stdout and "persons:   Antony Blinken" in text.stdout


def test_search_without_index_is_a_clear_error(pipeline_env):
    env, settings, _ = pipeline_env
    result = runner.invoke(app, ["search", "x"], env=env)
    assert result.exit_code == 1
    assert f"no index '{settings.index_alias}' yet" in result.stderr
