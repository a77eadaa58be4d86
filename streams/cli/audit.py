"""``newsstream audit``: every raw message is indexed, dead-lettered, or named as missing."""

from __future__ import annotations

import sys

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from streams.cli.common import err, fail, load_settings, out, require_kafka, uses

SETTINGS = uses(
    "kafka_bootstrap",
    "elasticsearch_url",
    "index_alias",
    "app_id",
    "topic_raw",
    "topic_parsed",
    "topic_enriched",
    "topic_dlq",
)


def audit(
    since: str | None = typer.Option(
        None,
        help="from this moment: ISO 8601 (2026-05-01T12:00Z) or a duration back (30m, 2h, 7d); default: "
        "the earliest retained offset",
    ),
    topic: str | None = typer.Option(None, help="raw topic to audit (default: NEWSSTREAM_TOPIC_RAW)"),
    limit: int = typer.Option(1000, help="most missing articles and duplicates listed (all are counted)"),
    wait: float = typer.Option(
        0.0, help="first wait up to this many seconds for the pipeline's consumer group to catch up (lag 0)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the report as one JSON object"),
    progress: bool = typer.Option(True, help="show a progress bar on stderr (when it is a terminal)"),
) -> None:
    """Check that every article published reached the index or the dead-letter topic.

    Reports published, indexed, dead-lettered (by stage and reason), missing
    (each with topic, partition, offset, key and article id) and duplicates
    (an article with two documents). Exit code 1 when an article is missing
    or has two documents.
    """
    import orjson

    from streams import audit as aud

    settings = load_settings()
    try:
        moment = aud.parse_since(since) if since else None
    except ValueError as exc:
        fail(str(exc))
    require_kafka(settings)
    if wait > 0:
        try:
            lag = aud.wait_drained(settings, wait)
        except Exception as exc:  # said in one line: the audit cannot know what is in flight
            fail(f"cannot read the consumer group {settings.app_id}'s offsets: {exc.__class__.__name__}: {exc}")
        if lag is None or any(lag.values()):
            err.print(f"warning: the pipeline still has messages to handle after {wait:.0f} s: {lag}", markup=False)
    bar = Progress(
        TextColumn("auditing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("messages"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not progress or not err.is_terminal,  # no bar in a log file
    )
    task = bar.add_task("audit", total=None)
    try:
        with bar:
            report = aud.audit(
                settings,
                moment,
                topic=topic,
                limit=limit,
                on_total=lambda n: bar.update(task, total=n),
                on_progress=lambda n: bar.advance(task, n),
            )
    except aud.AuditError as exc:
        fail(str(exc))
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict()) + b"\n")
        sys.stdout.flush()
    else:
        _print(report)
    if not report.ok:
        raise typer.Exit(1)


def _print(report) -> None:
    p = lambda text: out.print(text, highlight=False, markup=False)  # noqa: E731
    since = f" since {report.since}" if report.since else " from the earliest retained offset"
    p(f"audit of {report.topic}{since} against the index {report.index} and the dead-letter topic")
    p(f"  published      {report.published}")
    p(
        f"  indexed        {report.indexed}"
        + (f" ({report.matched_by_id} found by article id)" if report.matched_by_id else "")
    )
    p(f"  dead-lettered  {report.dead_lettered}")
    for why, n in report.dead_lettered_by.items():
        p(f"    {n:>8}  {why}")
    p(f"  missing        {report.missing}")
    for m in report.missing_listed:
        p(f"    {m.topic}/{m.partition}@{m.offset}  key={m.key}  id={m.article_id}  {m.detail}")
    if report.missing > len(report.missing_listed):
        p(f"    ... and {report.missing - len(report.missing_listed)} more")
    p(f"  duplicates     {report.duplicates}")
    for d in report.duplicates_listed:
        p(f"    {d.topic}/{d.partition}@{d.offset}  key={d.key}  documents {', '.join(d.document_ids)}")
    if report.lag and any(report.lag.values()):
        p(
            f"  note: the pipeline had not handled every message yet (lag {report.lag}): missing ones may be on their way"
        )
    elif report.lag is None:
        p("  note: the pipeline's consumer group has committed nothing")
    p(
        f"  {report.published} messages in {report.seconds:.1f} s ({report.rate:.0f} messages/s); "
        f"{report.without_key} without a key; {report.documents} documents in the index; "
        f"{report.dead_letters} letters on the dead-letter topic"
    )
