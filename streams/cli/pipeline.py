"""``newsstream publish``, ``worker``, ``parse`` and ``enrich``: articles into the pipeline, or through it locally."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from streams.cli.common import content_type_option, err, fail, load_settings, out, require_kafka, uses
from streams.records import ParsedArticle

PUBLISH_SETTINGS = uses("kafka_bootstrap", "topic_raw", "partitions", "max_message_bytes")
WORKER_SETTINGS = uses(
    "kafka_bootstrap",
    "elasticsearch_url",
    "index_alias",
    "app_id",
    "worker_processes",
    "partitions",
    "spacy_model",
    "enrichers",
    "agents",
    "topic_raw",
    "topic_parsed",
    "topic_enriched",
    "topic_dlq",
)
PARSE_SETTINGS = uses("max_message_bytes")
ENRICH_SETTINGS = uses("spacy_model", "max_message_bytes")

CONTENT_TYPE_HELP = "html or text for every file (default: by extension: .html, .htm, .html.gz are html, others text)"


def publish(
    paths: list[Path] = typer.Argument(
        ..., metavar="PATH", help="files or folders (read recursively) of .txt, .html, .html.gz, .json, .jsonl"
    ),
    topic: str | None = typer.Option(
        None, metavar="TOPIC", help="topic to publish to (default: $NEWSSTREAM_TOPIC_RAW, articles.raw)"
    ),
    content_type: str | None = typer.Option(None, "--content-type", metavar="html|text", help=CONTENT_TYPE_HELP),
    wait: bool = typer.Option(
        False, "--wait", help="return once every article published is indexed or dead-lettered, and print the counts"
    ),
    timeout: float = typer.Option(600.0, metavar="SECONDS", help="seconds --wait waits at most (then exit code 2)"),
) -> None:
    """Publish raw articles to the raw topic, keyed by a stable id of their URL or text.

    A file (or a .jsonl line) that cannot be read is named on stderr and the
    rest are still sent; the exit code is then 1.
    """
    from streams import kafka
    from streams import publish as pub
    from streams.records import encode_raw

    settings = load_settings()
    ctype = content_type_option(content_type)
    files = pub.expand(paths)
    if not files:
        fail("no input files found in " + ", ".join(map(str, paths)))
    topic = topic or settings.topic_raw
    if wait and topic != settings.topic_raw:
        fail(f"--wait follows articles through the pipeline from {settings.topic_raw}, not from {topic}")
    require_kafka(settings)
    try:
        report = pub.ensure_topics(settings)
    except ValueError as exc:
        fail(str(exc))
    for line in report.mismatches:
        err.print(f"warning: {line}", highlight=False, markup=False)
    dlq_start: dict[int, int] = {}
    if wait:
        from streams.waiting import dlq_end_offsets

        dlq_start = dlq_end_offsets(settings)
    producer = kafka.producer(settings)
    errors: list[pub.InputError] = []
    futures = []
    sizes = {}
    for path in files:
        try:
            sizes[path] = path.stat().st_size
        except OSError:
            sizes[path] = 0
    with Progress(
        TextColumn("publishing"),
        BarColumn(),
        TextColumn("{task.fields[files]}/{task.fields[n_files]} files"),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[articles]} articles, {task.fields[failures]} failed"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=len(files) < 2,  # one file: nothing to follow
    ) as progress:
        task = progress.add_task(
            "publish", total=sum(sizes.values()), files=0, n_files=len(files), articles=0, failures=0
        )
        for done, path in enumerate(files, 1):
            for item in pub.read_articles(path, ctype, settings.max_message_bytes):
                if isinstance(item, pub.InputError):
                    errors.append(item)
                    progress.console.print(f"error: {item}", highlight=False, markup=False)
                    continue
                value = encode_raw(item)
                too_large = kafka.over_limit(settings, len(value))
                if too_large:
                    error = pub.InputError(str(path), f"too large: {too_large}")
                    errors.append(error)
                    progress.console.print(f"error: {error}", highlight=False, markup=False)
                    continue
                futures.append((path, producer.send(topic, key=pub.article_key(item), value=value)))
            progress.update(task, advance=sizes[path], files=done, articles=len(futures), failures=len(errors))
        producer.flush()
    sent: list[tuple[int, int]] = []
    for path, fut in futures:
        try:
            meta = fut.get(timeout=30)
            sent.append((meta.partition, meta.offset))
        except Exception as exc:
            error = pub.InputError(str(path), f"not delivered: {exc.__class__.__name__}: {exc}")
            errors.append(error)
            err.print(f"error: {error}", highlight=False, markup=False)
    producer.close()
    out.print(f"published {len(sent)} article(s) to {topic}" + (f", {len(errors)} error(s)" if errors else ""))
    if wait and sent:
        _wait(settings, sent, dlq_start, timeout)
    if errors:
        raise typer.Exit(1)


def _wait(settings: Any, sent: list[tuple[int, int]], dlq_start: dict[int, int], timeout: float) -> None:
    """``publish --wait``: follow the published articles to the index, then print what became of them."""
    from streams.waiting import wait_until_handled

    with err.status("waiting for the pipeline") as spinner:

        def progress(stage: str, behind: int) -> None:
            spinner.update(f"waiting for the {stage} stage: {behind} message(s) not handled yet")

        handled = wait_until_handled(settings, sent, dlq_start, timeout, progress)
    letters = "; ".join(
        f"{stage}: " + ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()))
        for stage, reasons in handled.dead.items()
    )
    if not handled.done:
        err.print(
            f"not all in after {timeout:.0f} s: the {handled.waiting_for} stage has {handled.behind} message(s) "
            f"to handle ({handled.dead_lettered} dead-lettered so far{': ' + letters if letters else ''}); "
            "is a worker running? (newsstream status)",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(2)
    out.print(
        f"all in: {handled.published} published, {handled.indexed} indexed, {handled.dead_lettered} dead-lettered"
        + (f" ({letters})" if letters else ""),
        highlight=False,
        markup=False,
    )


LOGLEVELS = ("debug", "info", "warning", "error", "critical")


def worker(
    only: list[str] | None = typer.Option(
        None,
        "--only",
        metavar="AGENT",
        help="run only this agent: parse, enrich, index or a plugin's name (repeat for several)",
    ),
    loglevel: str = typer.Option("info", metavar="LEVEL", help="log level: debug, info, warning, error"),
) -> None:
    """Run the agents (a faust worker) until Ctrl-C or SIGTERM.

    Creates the topics and the index if missing, checks the plugins, then
    runs parse, enrich and index here and each plugin consumer agent in a
    process of its own.
    """
    from streams.runner import run_worker

    if loglevel.lower() not in LOGLEVELS:
        fail(f"--loglevel must be one of {', '.join(LOGLEVELS)}, not {loglevel!r}")
    run_worker(load_settings(), only=set(only) if only else None, loglevel=loglevel)


def _print_records(files: list[Path], content_type: str | None, transform: Callable[[ParsedArticle], Any]) -> None:
    """Print ``transform(parse(raw))`` as a JSON line per article of ``files``.

    Unreadable inputs and rejected articles are named on stderr
    (``error: FILE[:LINE]: reason``) and the rest still go; exit code 1 if any failed.
    """
    from streams import publish as pub
    from streams.parsing import ParseRejected
    from streams.parsing import parse as parse_article

    limit = load_settings().max_message_bytes  # a bad NEWSSTREAM_* variable is reported as by every command
    ctype = content_type_option(content_type)
    inputs = pub.expand(files)
    if not inputs:
        fail("no input files found in " + ", ".join(map(str, files)))
    failed = False
    for path in inputs:
        for item in pub.read_articles(path, ctype, limit):
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


def parse(
    files: list[Path] = typer.Argument(..., metavar="FILE", help="raw article files or folders"),
    content_type: str | None = typer.Option(None, "--content-type", metavar="html|text", help=CONTENT_TYPE_HELP),
) -> None:
    """Parse files (the parse stage alone, no NLP model) and print one JSON object per article, one per line."""
    _print_records(files, content_type, lambda parsed: parsed)


def enrich(
    files: list[Path] = typer.Argument(..., metavar="FILE", help="raw article files or folders"),
    content_type: str | None = typer.Option(None, "--content-type", metavar="html|text", help=CONTENT_TYPE_HELP),
) -> None:
    """Parse and enrich files (loads the spaCy model); print one JSON object per article, one per line."""
    from streams.enrichment import EnrichmentError, load_nlp
    from streams.enrichment import enrich as enrich_article

    try:
        nlp = load_nlp(load_settings().spacy_model)
    except EnrichmentError as exc:
        fail(str(exc))
    _print_records(files, content_type, lambda parsed: enrich_article(parsed, nlp))
