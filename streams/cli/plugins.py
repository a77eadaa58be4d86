"""``newsstream agents list`` and ``newsstream kibana import``: what a worker runs, and Kibana's saved objects."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from indexers.kibana import import_saved_objects
from streams.cli.common import fail, out
from streams.settings import get_settings

agents_app = typer.Typer(help="The agents and enrichers a worker runs.", no_args_is_help=True)
kibana_app = typer.Typer(help="Kibana saved objects.", no_args_is_help=True)


@agents_app.command("list")
def agents_list() -> None:
    """List every agent and enricher: where it comes from, its topics and consumer group."""
    from streams.plugins import PluginError, describe

    try:
        rows = describe(get_settings())
    except PluginError as exc:
        fail(str(exc))
    table = Table("kind", "name", "from", "topics", "consumer group", box=None, pad_edge=False)
    for row in rows:
        table.add_row(row["kind"], row["name"], row["origin"], row["topics"], row["group"])
    Console(width=200, markup=False).print(table)


@kibana_app.command("import")
def kibana_import(url: str = typer.Option("http://127.0.0.1:5601", help="Kibana base URL")) -> None:
    """Import the saved objects (data view, search, dashboard) into Kibana."""
    try:
        result = import_saved_objects(url)
    except Exception as exc:
        fail(f"import into {url} failed: {exc}")
    out.print(f"imported {result} saved object(s) into {url}")
