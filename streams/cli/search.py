"""``newsstream search``: hits from the articles index, readable or as JSON lines."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys

import orjson
import typer

from indexers.elasticsearch.search import Hit
from streams.cli.common import fail, out
from streams.settings import get_settings


def print_hits(total: int, hits: list[Hit], as_json: bool) -> None:
    """Print search hits as a readable list or as JSON lines."""
    if as_json:
        for h in hits:
            sys.stdout.buffer.write(orjson.dumps(dataclasses.asdict(h)) + b"\n")
        sys.stdout.flush()
        return
    out.print(f"{total} hit(s)")
    for h in hits:
        out.print(f"\n[bold]{h.title or '(no title)'}[/]", highlight=False)
        out.print(f"  published: {h.published_at or '-'}   id: {h.id}", highlight=False)
        out.print(f"  persons:   {', '.join(h.persons) or '-'}", highlight=False)
        out.print(f"  places:    {', '.join(h.places) or '-'}", highlight=False)
        out.print(f"  countries: {' '.join(h.countries) or '-'}", highlight=False)
        out.print(f"  tags:      {', '.join(h.tags) or '-'}", highlight=False)
        for frag in h.highlights[:2]:
            out.print(f"  … {' '.join(frag.split())} …", highlight=False)


def search(
    query: str = typer.Argument("*", help="full-text query"),
    person: str | None = typer.Option(None, help="only articles naming this person"),
    country: str | None = typer.Option(None, help="only articles about this ISO 3166-1 alpha-2 country"),
    tag: str | None = typer.Option(None, help="only articles with this tag"),
    since: str | None = typer.Option(None, help="only articles published on or after this date (YYYY-MM-DD)"),
    size: int = typer.Option(10, min=1, max=10000, help="number of hits"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per hit"),
) -> None:
    """Search the articles index: hits with title, date, persons, places, tags and highlights."""
    from elasticsearch import BadRequestError, NotFoundError

    from indexers.elasticsearch.client import explain, sync_client
    from indexers.elasticsearch.search import search as run_search

    settings = get_settings()
    if since:
        try:
            dt.date.fromisoformat(since[:10]) if len(since) > 10 else dt.date.fromisoformat(since)
        except ValueError:
            fail(f"--since must be a date as YYYY-MM-DD, not {since!r}")
    if country and (len(country) != 2 or not country.isalpha()):
        fail(f"--country must be an ISO 3166-1 alpha-2 code such as KZ, not {country!r}")
    try:
        total, hits = run_search(
            sync_client(settings),
            settings.index_alias,
            query,
            size=size,
            person=person,
            country=country,
            tag=tag,
            since=since,
        )
    except NotFoundError:
        fail(f"no index {settings.index_alias!r} yet: run a worker (newsstream worker) to create it")
    except BadRequestError as exc:
        cause = exc.body.get("error", {}).get("root_cause", [{}])[0].get("reason", "")
        fail(f"Elasticsearch refused the query: {exc.message}: {cause}")
    except Exception as exc:
        # unreachable, TLS, credentials: no check first (a user allowed to search may not read cluster health)
        explained = explain(settings, exc)
        if explained is None:
            raise
        hint = " (try: newsstream services up)" if "unreachable" in explained[1] else ""
        fail(explained[1] + hint)
    print_hits(total, hits, as_json)
