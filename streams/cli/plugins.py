"""``newsstream agents list`` and ``newsstream kibana import``: what a worker runs, and Kibana's saved objects."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from indexers.kibana import import_saved_objects
from streams.cli.common import fail, load_settings, out, typer_app, uses

agents_app = typer_app("The agents and enrichers a worker runs.")
kibana_app = typer_app("Kibana saved objects.")


@agents_app.command("list", epilog=uses("app_id", "enrichers", "agents"))
def agents_list() -> None:
    """List every agent and enricher: where it comes from, its topics and consumer group."""
    from streams.plugins import PluginError, describe

    try:
        rows = describe(load_settings())
    except PluginError as exc:
        fail(str(exc))
    table = Table("kind", "name", "from", "topics", "consumer group", box=None, pad_edge=False)
    for row in rows:
        table.add_row(row["kind"], row["name"], row["origin"], row["topics"], row["group"])
    Console(width=200, markup=False).print(table)


@kibana_app.command("import")
def kibana_import(url: str = typer.Option("http://127.0.0.1:5601", metavar="URL", help="Kibana's base URL")) -> None:
    """Import the saved objects (data view, search, dashboard) into Kibana, with the Elasticsearch credentials."""
    from indexers.elasticsearch.client import authorization_header, kibana_ssl_context

    settings = load_settings()
    try:
        context = kibana_ssl_context(settings)
        result = import_saved_objects(url, authorization=authorization_header(settings), context=context)
    except Exception as exc:
        hint = ""
        if getattr(exc, "status", None) == 401:
            hint = (
                " (Kibana takes the Elasticsearch credentials of the settings: NEWSSTREAM_ELASTICSEARCH_API_KEY, "
                "or NEWSSTREAM_ELASTICSEARCH_USERNAME and NEWSSTREAM_ELASTICSEARCH_PASSWORD)"
            )
        fail(f"import into {url} failed: {exc}{hint}")
    out.print(f"imported {result} saved object(s) into {url}")
