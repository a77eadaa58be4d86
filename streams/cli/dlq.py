"""``newsstream dlq show|replay``: the dead-letter topic."""

from __future__ import annotations

import sys

import typer

from streams.cli.common import fail, out, require_kafka
from streams.settings import get_settings

app = typer.Typer(help="Inspect and replay the dead-letter topic.", no_args_is_help=True)


@app.command("show")
def dlq_show(
    limit: int = typer.Option(20, help="most dead letters to show"),
    stage: str | None = typer.Option(None, help="only this stage"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per dead letter"),
) -> None:
    """Print the dead letters on articles.dlq (stage, reason, error, origin)."""
    from streams.delivery.deadletters import read_dead_letters

    settings = get_settings()
    require_kafka(settings)
    try:
        everything = [d for d in read_dead_letters(settings) if not stage or d.stage == stage]
    except Exception as exc:
        fail(f"cannot read {settings.topic_dlq} from {settings.kafka_bootstrap}: {exc}")
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


@app.command("replay")
def dlq_replay(stage: str | None = typer.Option(None, help="only dead letters of this stage")) -> None:
    """Send dead letters back to the topic of the stage they failed in."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from streams.cli.common import err
    from streams.delivery.deadletters import replay

    settings = get_settings()
    require_kafka(settings)
    with Progress(
        TextColumn("reading dead letters"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[replayed]} replayed"),
        TimeElapsedColumn(),
        console=err,
    ) as bar:
        task = bar.add_task("replay", total=None, replayed=0)

        def progress(read: int, to_read: int, replayed: int) -> None:
            bar.update(task, completed=read, total=to_read, replayed=replayed)

        n = replay(settings, stage, progress=progress)
    out.print(f"replayed {n} dead letter(s)")
