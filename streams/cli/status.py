"""``newsstream status``: one screen of how the pipeline is doing, read from Kafka and Elasticsearch."""

from __future__ import annotations

import sys
import time
from typing import Any

import orjson
import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from streams.cli.common import load_settings, out, uses

SETTINGS = uses(
    "kafka_bootstrap", "elasticsearch_url", "index_alias", "app_id", "topic_raw", "topic_dlq", "enrichers", "agents"
)


def _health(ok: bool | None) -> Text:
    return Text("up", style="green") if ok else Text("DOWN", style="bold red")


def render(status: dict[str, Any]) -> Group:
    """The status as rich renderables: services, one row per agent, dead letters by reason."""
    es = status["elasticsearch"]
    docs = es.get("documents")
    head = Text.assemble(
        ("Kafka ", "bold"),
        _health(status["kafka"]["healthy"]),
        f" ({status['kafka']['bootstrap']})   ",
        ("Elasticsearch ", "bold"),
        _health(es["healthy"]),
        f"   index {es['alias']}: ",
        (f"{docs:,} documents" if docs is not None else "no documents (no index yet?)", "bold"),
        f"   {status['time']}",
    )
    table = Table(title=None, expand=False)
    for col, justify, no_wrap in (
        ("agent", "left", True),
        ("kind", "left", True),
        ("consumer group", "left", True),
        ("topic", "left", True),
        ("lag", "right", True),
        (f"articles/s ({status['window_seconds']:.0f} s)", "right", False),
        ("dead letters by reason", "left", False),
    ):
        table.add_column(col, justify=justify, no_wrap=no_wrap)  # type: ignore[arg-type]
    for a in status["agents"]:
        letters = ", ".join(f"{reason} {n}" for reason, n in a["dead_letters"].items()) or "-"
        if a["lag"] is None:
            lag = Text("?", style="red")
        else:
            lag = Text(f"{a['lag']:,}", style="bold yellow" if a["lag"] else "green")
        rate = "?" if a["per_second"] is None else f"{a['per_second']:.2f}"
        table.add_row(a["name"], a["kind"], a["group"], a["topic"], lag, rate, letters)
    parts: list[Any] = [head, table]
    dl = status.get("dead_letters")
    if dl is not None:
        counted = "" if dl["counted"] >= dl["total"] else f" (reasons counted over the newest {dl['counted']:,})"
        parts.append(Text(f"dead-letter topic: {dl['total']:,} letters{counted}"))
    if status.get("plugin_error"):
        parts.append(Text(f"plugins: {status['plugin_error']}", style="red"))
    return Group(*parts)


def status(
    watch: bool = typer.Option(False, "--watch", help="refresh until interrupted"),
    interval: float = typer.Option(2.0, metavar="SECONDS", help="seconds between refreshes with --watch"),
    as_json: bool = typer.Option(False, "--json", help="print the status as one JSON object (per refresh)"),
) -> None:
    """Show each agent's consumer group, lag, articles/s over the last minute and dead letters by reason,
    the index's document count, and whether Kafka and Elasticsearch answer (exit code 1 when one does not)."""
    from rich.live import Live

    from streams.status import StatusReader

    reader = StatusReader(load_settings())
    healthy = True
    try:
        if as_json:
            while True:
                now = reader.read()
                healthy = now["kafka"]["healthy"] and now["elasticsearch"]["healthy"]
                sys.stdout.buffer.write(orjson.dumps(now) + b"\n")
                sys.stdout.flush()
                if not watch:
                    break
                time.sleep(interval)
        elif not watch:
            now = reader.read()
            healthy = now["kafka"]["healthy"] and now["elasticsearch"]["healthy"]
            out.print(render(now))
            return
        with Live(render(reader.read()), console=out, refresh_per_second=4, screen=False) as live:
            while True:
                time.sleep(interval)
                live.update(render(reader.read()))
    except KeyboardInterrupt:
        pass
    finally:
        reader.close()
        if not healthy:
            raise typer.Exit(1)
