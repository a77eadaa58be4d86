"""``newsstream search``: hits from the articles index, readable or as JSON lines."""

from __future__ import annotations

import sys

import orjson
import typer
from rich.markup import escape

from indexers.elasticsearch.search import Hit
from streams.cli.common import fail, load_settings, out, uses

SETTINGS = uses("elasticsearch_url", "index_alias")

QUERY_HELP = (
    'simple_query_string: words (all must match), "a phrase", +must, -not, a | b, prefix*, (groups); '
    'field:value or field:"a phrase" for title, body, person, org, place, tag, author, publisher, keyword, caption; '
    "AND, OR, NOT in capitals also work"
)


def _names(values: list[str]) -> str:
    return ", ".join(values) if values else "-"


def print_hits(total: int, hits: list[Hit], as_json: bool, body: bool = False) -> None:
    """Print search hits as a readable list or as JSON lines (every indexed field but the body unless ``body``)."""
    if as_json:
        for h in hits:
            sys.stdout.buffer.write(orjson.dumps(h.to_json(body=body)) + b"\n")
        sys.stdout.flush()
        return
    out.print(f"{total} hit(s)", highlight=False)
    for h in hits:
        # article text is data, never rich markup: escaped
        out.print(f"\n[bold]{escape(h.title or '(no title)')}[/]", highlight=False)
        out.print(f"  url:       {escape(h.get('url') or '-')}", highlight=False)
        out.print(
            f"  published: {escape(h.get('published_at') or '-')}   publisher: {escape(h.get('publisher') or '-')}"
            f"   id: {h.id}",
            highlight=False,
        )
        for label, name in (
            ("persons", "persons"),
            ("orgs", "organizations"),
            ("places", "places"),
            ("tags", "tags"),
        ):
            out.print(f"  {label + ':':<10} {escape(_names(h.get(name) or []))}", highlight=False)
        out.print(f"  countries: {escape(' '.join(h.get('countries') or []) or '-')}", highlight=False)
        for frag in h.highlights[:2]:
            out.print(f"  … {escape(' '.join(frag.split()))} …", highlight=False)
        if body and h.get("body"):
            out.print("", highlight=False)
            out.print(escape(h.get("body")), highlight=False)


def search(
    query: str = typer.Argument("*", metavar="QUERY", help=QUERY_HELP),
    person: list[str] | None = typer.Option(None, metavar="NAME", help="only articles naming this person"),
    org: list[str] | None = typer.Option(None, metavar="NAME", help="only articles naming this organisation"),
    place: list[str] | None = typer.Option(None, metavar="NAME", help="only articles naming this place"),
    country: list[str] | None = typer.Option(
        None, metavar="CC", help="only articles about this country (ISO 3166-1 alpha-2: KZ, US)"
    ),
    tag: list[str] | None = typer.Option(None, metavar="TAG", help="only articles with this tag"),
    publisher: list[str] | None = typer.Option(None, metavar="NAME", help="only articles of this publisher"),
    language: list[str] | None = typer.Option(
        None, metavar="LANG", help="only articles in this language (ISO 639-1: en)"
    ),
    author: list[str] | None = typer.Option(None, metavar="NAME", help="only articles by this author"),
    since: str | None = typer.Option(
        None, metavar="DATE", help="only articles published on or after this date (YYYY-MM-DD or an ISO date-time)"
    ),
    until: str | None = typer.Option(
        None, metavar="DATE", help="only articles published on or before this date (the whole day for YYYY-MM-DD)"
    ),
    sort: str = typer.Option("relevance", metavar="relevance|date", help="order of the hits (date: newest first)"),
    field: list[str] | None = typer.Option(
        None,
        "--field",
        metavar="FIELD[^BOOST]",
        help="search only these fields, e.g. --field title^3 --field body (default: title^3, body, tags, names, ...)",
    ),
    size: int = typer.Option(10, min=1, max=10000, metavar="N", help="number of hits"),
    as_json: bool = typer.Option(
        False, "--json", help="one JSON object per hit: every indexed field but the body, plugins' fields in 'extra'"
    ),
    body: bool = typer.Option(False, "--body", help="include the body (in --json, and after each readable hit)"),
) -> None:
    """Search the articles: title, URL, publisher, date, names, tags and highlights of each hit.

    Filters given more than once must all match (--person A --person B:
    articles naming both). Example: newsstream search '"Davis Cup" -doubles'
    --country ES --since 2019-11-01 --sort date
    """
    from elasticsearch import BadRequestError, NotFoundError

    from indexers.elasticsearch.client import explain, sync_client
    from indexers.elasticsearch.search import QueryError, build_query, sort_clause
    from indexers.elasticsearch.search import search as run_search

    settings = load_settings()
    filters = {
        "fields": field or None,
        "persons": person,
        "organizations": org,
        "places": place,
        "countries": country,
        "tags": tag,
        "publishers": publisher,
        "languages": language,
        "authors": author,
        "since": since,
        "until": until,
    }
    try:  # the options first, without a round trip: a bad date or code is the user's, not Elasticsearch's
        build_query(query, **filters)  # type: ignore[arg-type]
        sort_clause(sort)  # type: ignore[arg-type]
    except QueryError as exc:
        fail(str(exc))
    try:
        total, hits = run_search(
            sync_client(settings),
            settings.index_alias,
            query,
            size=size,
            sort=sort,  # type: ignore[arg-type]
            **filters,
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
    print_hits(total, hits, as_json, body=body)
