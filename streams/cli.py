"""The ``newsstream`` command line (typer).

Commands: ``services up|down|status``, ``publish``, ``worker``, ``parse``,
``enrich``, ``search``, ``dlq show|replay``, ``agents list``,
``kibana import``, ``demo``. Errors are printed in one line naming the input
(file, or file:line) and give exit code 1; the other inputs are still handled.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Optional

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.settings import Settings, get_settings

app = typer.Typer(help="newsstream: Kafka -> parse -> enrich -> Elasticsearch, for news.", no_args_is_help=True)
services_app = typer.Typer(
    help="Local Apache Kafka and Elasticsearch, fetched from Maven Central.", no_args_is_help=True
)
dlq_app = typer.Typer(help="Inspect and replay the dead-letter topic.", no_args_is_help=True)
agents_app = typer.Typer(help="The agents and enrichers a worker runs.", no_args_is_help=True)
kibana_app = typer.Typer(help="Kibana saved objects.", no_args_is_help=True)
app.add_typer(services_app, name="services")
app.add_typer(dlq_app, name="dlq")
app.add_typer(agents_app, name="agents")
app.add_typer(kibana_app, name="kibana")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "articles"


def _fail(message: str) -> None:
    err.print(f"error: {message}", highlight=False, markup=False)
    raise typer.Exit(1)


def _require_kafka(settings: Settings) -> None:
    """Fail in seconds, with one line, when no Kafka broker answers."""
    from streams.local.services import kafka_healthy

    if not kafka_healthy(settings.kafka_bootstrap, timeout=5):
        _fail(f"Kafka is not reachable at {settings.kafka_bootstrap} (try: newsstream services up)")


# ------------------------------------------------------------------ services


@services_app.command("up")
def services_up(
    secure: bool = typer.Option(
        False, "--secure", help="also Kafka SASL_SSL/SSL listeners and HTTPS with credentials for Elasticsearch"
    ),
    kafka_brokers: Optional[int] = typer.Option(
        None, "--kafka-brokers", min=1, max=3, help="KRaft nodes, 1-3 (default: as the last `up`, else 1)"
    ),
    elasticsearch_nodes: Optional[int] = typer.Option(
        None, "--elasticsearch-nodes", min=1, max=3, help="Elasticsearch nodes, 1-3 (default: as the last `up`, else 1)"
    ),
) -> None:
    """Fetch (once), start and wait for Kafka and Elasticsearch on loopback."""
    from streams.local import services

    try:
        services.up(
            get_settings(),
            echo=out.print,
            secure=secure,
            kafka_brokers=kafka_brokers,
            elasticsearch_nodes=elasticsearch_nodes,
        )
    except services.ServiceError as exc:
        _fail(str(exc))


@services_app.command("down")
def services_down() -> None:
    """Stop the Kafka, Elasticsearch and proxy processes that `services up` started."""
    from streams.local import services

    services.down(get_settings(), echo=out.print)


@services_app.command("status")
def services_status() -> None:
    """Say whether each process is healthy, where, its pid and secure endpoints (never a secret)."""
    from streams.local import services

    states = services.status(get_settings())
    for s in states:
        mark = "[green]healthy[/]" if s.healthy else "[red]down[/]"
        detail = f"  {s.detail}" if s.detail else ""
        out.print(f"{s.name:15} {mark}  {s.address}  pid={s.pid or '-'}{detail}", highlight=False)
    if not all(s.healthy for s in states):
        raise typer.Exit(1)


# ------------------------------------------------------------------ publish


@app.command()
def publish(
    paths: list[Path] = typer.Argument(..., help="files or folders of raw articles"),
    topic: Optional[str] = typer.Option(None, help="topic (default: settings.topic_raw)"),
    content_type: Optional[str] = typer.Option(None, "--content-type", help="html or text, for every file"),
) -> None:
    """Publish raw articles (.txt, .html, .html.gz, .json, .jsonl) to articles.raw, keyed by a stable id."""
    from streams import publish as pub
    from streams.records import encode_raw

    settings = get_settings()
    if content_type not in (None, "html", "text"):
        _fail(f"--content-type must be html or text, not {content_type!r}")
    files = pub.expand(paths)
    if not files:
        _fail("no input files found in " + ", ".join(map(str, paths)))
    _require_kafka(settings)
    pub.ensure_topics(settings)
    producer = pub.producer(settings)
    topic = topic or settings.topic_raw
    limit = settings.max_message_bytes
    errors: list = []
    futures = []
    with Progress(
        TextColumn("publishing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=False
    ) as progress:
        task = progress.add_task("publish", total=len(files))
        for path in files:
            for item in pub.read_articles(path, content_type):
                if isinstance(item, pub.InputError):
                    errors.append(item)
                    progress.console.print(f"error: {item}", highlight=False, markup=False)
                    continue
                value = encode_raw(item)
                if len(value) > limit:
                    error = pub.InputError(
                        str(path),
                        f"{len(value)} bytes is over the message limit of {limit} (NEWSSTREAM_MAX_MESSAGE_BYTES)",
                    )
                    errors.append(error)
                    progress.console.print(f"[red]error:[/] {error}", highlight=False, markup=False)
                    continue
                futures.append((path, producer.send(topic, key=pub.article_key(item), value=value)))
            progress.advance(task)
        producer.flush()
    sent = 0
    for path, fut in futures:
        try:
            fut.get(timeout=30)
            sent += 1
        except Exception as exc:
            error = pub.InputError(str(path), f"not delivered: {exc.__class__.__name__}: {exc}")
            errors.append(error)
            err.print(f"error: {error}", highlight=False, markup=False)
    producer.close()
    out.print(f"published {sent} article(s) to {topic}" + (f", {len(errors)} error(s)" if errors else ""))
    if errors:
        raise typer.Exit(1)


# ------------------------------------------------------------------ worker


@app.command()
def worker(
    only: Optional[list[str]] = typer.Option(
        None, "--only", help="run only these agents (parse, enrich, index, or a plugin's)"
    ),
    loglevel: str = typer.Option("info", help="log level"),
) -> None:
    """Run the agents (a faust worker) until interrupted."""
    from streams.runner import run_worker

    run_worker(get_settings(), only=set(only) if only else None, loglevel=loglevel)


# ------------------------------------------------------------------ parse / enrich


def _print_records(files: list[Path], content_type: Optional[str], transform) -> None:
    """Print ``transform(parse(raw))`` as a JSON line per article of ``files``.

    Unreadable inputs and rejected articles are named on stderr
    (``error: FILE[:LINE]: reason``) and the rest still go; exit code 1 if any failed.
    """
    from streams import publish as pub
    from streams.parsing import ParseRejected
    from streams.parsing import parse as parse_article

    if content_type not in (None, "html", "text"):
        _fail(f"--content-type must be html or text, not {content_type!r}")
    inputs = pub.expand(files)
    if not inputs:
        _fail("no input files found in " + ", ".join(map(str, files)))
    failed = False
    for path in inputs:
        for item in pub.read_articles(path, content_type):
            if isinstance(item, pub.InputError):
                err.print(f"error: {item}", highlight=False, markup=False)
                failed = True
                continue
            try:
                record = transform(parse_article(item))
            except ParseRejected as exc:
                err.print(f"error: {path}: rejected: {exc}", highlight=False, markup=False)
                failed = True
                continue
            sys.stdout.buffer.write(record.to_bytes() + b"\n")
    sys.stdout.flush()
    if failed:
        raise typer.Exit(1)


@app.command()
def parse(
    files: list[Path] = typer.Argument(..., help="raw article files"),
    content_type: Optional[str] = typer.Option(None, "--content-type", help="html or text (default: by extension)"),
) -> None:
    """Parse files and print one JSON object per article, one per line. Loads no NLP model."""
    _print_records(files, content_type, lambda parsed: parsed)


@app.command()
def enrich(
    files: list[Path] = typer.Argument(..., help="raw article files"),
    content_type: Optional[str] = typer.Option(None, "--content-type", help="html or text (default: by extension)"),
) -> None:
    """Parse and enrich files; print one JSON object per article, one per line."""
    from streams.enrichment import EnrichmentError, load_nlp
    from streams.enrichment import enrich as enrich_article

    try:
        nlp = load_nlp(get_settings().spacy_model)
    except EnrichmentError as exc:
        _fail(str(exc))
    _print_records(files, content_type, lambda parsed: enrich_article(parsed, nlp))


# ------------------------------------------------------------------ search


def _es(settings: Settings):
    from elasticsearch import Elasticsearch

    return Elasticsearch(settings.elasticsearch_url, request_timeout=30)


def print_hits(total: int, hits: list, as_json: bool) -> None:
    """Print search hits as a readable list or as JSON lines."""
    import dataclasses

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


@app.command()
def search(
    query: str = typer.Argument("*", help="full-text query"),
    person: Optional[str] = typer.Option(None, help="only articles naming this person"),
    country: Optional[str] = typer.Option(None, help="only articles about this ISO 3166-1 alpha-2 country"),
    tag: Optional[str] = typer.Option(None, help="only articles with this tag"),
    since: Optional[str] = typer.Option(None, help="only articles published on or after this date (YYYY-MM-DD)"),
    size: int = typer.Option(10, min=1, max=10000, help="number of hits"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per hit"),
) -> None:
    """Search the articles index: hits with title, date, persons, places, tags and highlights."""
    import datetime as dt

    from elastic_transport import ConnectionError as ESConnectionError
    from elasticsearch import BadRequestError, NotFoundError

    from indexers.elasticsearch.search import search as run_search

    settings = get_settings()
    if since:
        try:
            dt.date.fromisoformat(since[:10]) if len(since) > 10 else dt.date.fromisoformat(since)
        except ValueError:
            _fail(f"--since must be a date as YYYY-MM-DD, not {since!r}")
    if country and (len(country) != 2 or not country.isalpha()):
        _fail(f"--country must be an ISO 3166-1 alpha-2 code such as KZ, not {country!r}")
    try:
        total, hits = run_search(
            _es(settings), settings.index_alias, query, size=size, person=person, country=country, tag=tag, since=since
        )
    except ESConnectionError:
        _fail(f"Elasticsearch is not reachable at {settings.elasticsearch_url} (try: newsstream services up)")
    except NotFoundError:
        _fail(f"no index {settings.index_alias!r} yet: run a worker (newsstream worker) to create it")
    except BadRequestError as exc:
        _fail(
            f"Elasticsearch refused the query: {exc.message}: {exc.body.get('error', {}).get('root_cause', [{}])[0].get('reason', '')}"
        )
    print_hits(total, hits, as_json)


# ------------------------------------------------------------------ dead letters


@dlq_app.command("show")
def dlq_show(
    limit: int = typer.Option(20, help="most dead letters to show"),
    stage: Optional[str] = typer.Option(None, help="only this stage"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per dead letter"),
) -> None:
    """Print the dead letters on articles.dlq (stage, reason, error, origin)."""
    from streams.delivery.deadletters import read_dead_letters

    settings = get_settings()
    try:
        everything = [d for d in read_dead_letters(settings) if not stage or d.stage == stage]
    except Exception as exc:
        _fail(f"cannot read {settings.topic_dlq} from {settings.kafka_bootstrap}: {exc}")
    letters = everything[-limit:]
    for d in letters:
        if as_json:
            sys.stdout.buffer.write(d.to_bytes() + b"\n")
        else:
            out.print(
                f"{d.failed_at}  stage={d.stage}  {d.topic}[{d.partition}]@{d.offset}  {d.error}: {d.reason}",
                highlight=False,
                markup=False,
            )
    if as_json:
        sys.stdout.flush()
    else:
        shown = f"showing the last {len(letters)} of " if len(letters) < len(everything) else ""
        out.print(f"{shown}{len(everything)} dead letter(s)")


@dlq_app.command("replay")
def dlq_replay(stage: Optional[str] = typer.Option(None, help="only dead letters of this stage")) -> None:
    """Send dead letters back to the topic of the stage they failed in."""
    from streams.delivery.deadletters import replay

    n = replay(get_settings(), stage)
    out.print(f"replayed {n} dead letter(s)")


# ------------------------------------------------------------------ agents / kibana


@agents_app.command("list")
def agents_list() -> None:
    """List every agent and enricher: where it comes from, its topics and consumer group."""
    from rich.table import Table

    from streams.plugins import PluginError, describe

    try:
        rows = describe(get_settings())
    except PluginError as exc:
        _fail(str(exc))
    table = Table("kind", "name", "from", "topics", "consumer group", box=None, pad_edge=False)
    for row in rows:
        table.add_row(row["kind"], row["name"], row["origin"], row["topics"], row["group"])
    Console(width=200).print(table)


@kibana_app.command("import")
def kibana_import(url: str = typer.Option("http://127.0.0.1:5601", help="Kibana base URL")) -> None:
    """Import the saved objects (data view, search, dashboard) into Kibana."""
    from indexers.kibana import import_saved_objects

    try:
        result = import_saved_objects(url)
    except Exception as exc:
        _fail(f"import into {url} failed: {exc}")
    out.print(f"imported {result} saved object(s) into {url}")


# ------------------------------------------------------------------ demo


@app.command()
def demo(
    query: str = typer.Argument("Kazakhstan"),
    timeout: float = typer.Option(600.0, help="seconds to wait for the articles to be searchable"),
) -> None:
    """Start the services, publish the bundled articles, run a worker until they are indexed, search."""
    from streams.local import services
    from streams.local.demo import run_demo

    settings = get_settings()
    try:
        services.up(settings, echo=out.print)
    except services.ServiceError as exc:
        _fail(str(exc))
    total, hits = run_demo(settings, EXAMPLES, timeout=timeout, echo=out.print)
    out.print(f"\n[bold]newsstream search {query!r}[/]")
    from indexers.elasticsearch.search import search as run_search

    total, hits = run_search(_es(settings), settings.index_alias, query)
    print_hits(total, hits, as_json=False)
    if not hits:
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the ``newsstream`` console script."""
    logging.basicConfig(level=os.environ.get("NEWSSTREAM_LOGLEVEL", "WARNING"))
    # the clients' own connection chatter: our commands say it in one line
    for name in ("kafka", "elastic_transport", "urllib3", "aiokafka"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    app()


if __name__ == "__main__":
    main()
