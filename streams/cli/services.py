"""``newsstream services up|down|status`` and ``newsstream demo``: the local Kafka and Elasticsearch."""

from __future__ import annotations

import typer
from rich.markup import escape

from streams.cli.common import EXAMPLES, fail, load_settings, out, typer_app, uses
from streams.cli.search import print_hits

SERVICES_SETTINGS = uses(
    "kafka_bootstrap",
    "elasticsearch_url",
    "services_dir",
    "kafka_heap",
    "elasticsearch_heap",
    "services_timeout_seconds",
)
DEMO_SETTINGS = uses("kafka_bootstrap", "elasticsearch_url", "services_dir", "index_alias", "topic_raw")

app = typer_app("Local Apache Kafka and Elasticsearch, fetched from Maven Central.")


@app.command("up", epilog=SERVICES_SETTINGS)
def services_up(
    secure: bool = typer.Option(
        False, "--secure", help="also Kafka SASL_SSL/SSL listeners and HTTPS with credentials for Elasticsearch"
    ),
    kafka_brokers: int | None = typer.Option(
        None, "--kafka-brokers", min=1, max=3, metavar="N", help="KRaft nodes, 1-3 (default: as the last `up`, else 1)"
    ),
    elasticsearch_nodes: int | None = typer.Option(
        None,
        "--elasticsearch-nodes",
        min=1,
        max=3,
        metavar="N",
        help="Elasticsearch nodes, 1-3 (default: as the last `up`, else 1)",
    ),
) -> None:
    """Fetch (once), start and wait for Kafka and Elasticsearch on loopback."""
    from streams.local import services

    try:
        services.up(
            load_settings(),
            echo=out.print,
            secure=secure,
            kafka_brokers=kafka_brokers,
            elasticsearch_nodes=elasticsearch_nodes,
        )
    except services.ServiceError as exc:
        fail(str(exc))


@app.command("down", epilog=SERVICES_SETTINGS)
def services_down() -> None:
    """Stop the Kafka, Elasticsearch and proxy processes that `services up` started."""
    from streams.local import services

    services.down(load_settings(), echo=out.print)


@app.command("status", epilog=SERVICES_SETTINGS)
def services_status() -> None:
    """Say whether each process is healthy, where, its pid and secure endpoints (never a secret)."""
    from streams.local import services

    states = services.status(load_settings())
    for s in states:
        mark = "[green]healthy[/]" if s.healthy else "[red]down[/]"
        detail = f"  {s.detail}" if s.detail else ""
        out.print(
            f"{escape(s.name):15} {mark}  {escape(s.address)}  pid={s.pid or '-'}{escape(detail)}",
            highlight=False,
            markup=True,
        )
    if not all(s.healthy for s in states):
        raise typer.Exit(1)


def demo(
    query: str = typer.Argument("Kazakhstan", metavar="QUERY", help="what to search for at the end"),
    timeout: float = typer.Option(600.0, metavar="SECONDS", help="how long to wait for the articles to be searchable"),
) -> None:
    """Start the services, publish the bundled articles, run a worker until they are indexed, then search."""
    from indexers.elasticsearch.client import sync_client
    from indexers.elasticsearch.search import search as run_search
    from streams.local import services
    from streams.local.demo import run_demo

    settings = load_settings()
    try:
        services.up(settings, echo=out.print)
    except services.ServiceError as exc:
        fail(str(exc))
    run_demo(settings, EXAMPLES, timeout=timeout, echo=out.print)
    out.print(f"\n[bold]newsstream search {escape(repr(query))}[/]", markup=True)
    total, hits = run_search(sync_client(settings), settings.index_alias, query)
    print_hits(total, hits, as_json=False)
    if not hits:
        raise typer.Exit(1)
