"""``newsstream dlq show|replay|discard``: dead letters an operator can work through."""

from __future__ import annotations

import sys
from datetime import datetime

import orjson
import typer
from rich.markup import escape

from streams.cli.common import fail, load_settings, out, require_kafka, typer_app, uses
from streams.settings import Settings

SETTINGS = uses("kafka_bootstrap", "topic_dlq", "enrichers", "agents")

app = typer_app(
    "Dead letters: messages a stage could not handle. Show them, replay them to the stage that failed them, "
    "or discard them."
)

STAGE_HELP = "only letters of this stage: parse, enrich, index or a plugin's name"
REASON_HELP = "only letters whose reason contains this text (case-insensitive)"
SINCE_HELP = "only letters that failed on or after this date (YYYY-MM-DD or an ISO date-time)"
ID_HELP = "only this letter (PARTITION@OFFSET, as dlq show prints it; repeat for several)"


def _since(value: str | None) -> datetime | None:
    from indexers.elasticsearch.search import QueryError, check_date
    from streams.delivery.replay import parse_time

    if value is None:
        return None
    try:
        return parse_time(check_date("--since", value))
    except QueryError as exc:
        fail(str(exc))


def _known_stages(settings: Settings) -> set[str]:
    """The stages a letter can name now: the built-in ones and the plugins that load."""
    from streams.plugins import BUILTIN_AGENTS, PluginError, load_consumer_agents, load_enrichers

    names = set(BUILTIN_AGENTS)
    try:
        names |= {e.name for e in load_enrichers(settings, setup=False)}
        names |= {a.name for a in load_consumer_agents(settings)}
    except PluginError as exc:
        fail(f"cannot load the plugins to check --stage: {exc}")
    return names


def _selection(settings: Settings, stage, reason, since, ids, statuses=("open",)):
    from streams.delivery.deadletters import read_letters
    from streams.delivery.replay import Selection

    if stage is not None:
        known = _known_stages(settings)
        try:
            seen = {s.letter.stage for s in read_letters(settings)}
        except Exception as exc:
            fail(f"cannot read {settings.topic_dlq} from {settings.kafka_bootstrap}: {exc}")
        if stage not in known | seen:
            fail(f"--stage {stage!r} is no stage: the stages are {', '.join(sorted(known | seen))}")
    for letter_id in ids or []:
        part, _, offset = letter_id.partition("@")
        if not (part.isdigit() and offset.isdigit()):
            fail(f"--id must be PARTITION@OFFSET such as 0@17 (as dlq show prints it), not {letter_id!r}")
    return Selection(stage=stage, reason=reason, since=_since(since), ids=list(ids or []), statuses=statuses)


def _select(stage, reason, since, ids, statuses=("open",)):
    """Settings, the selection and the letters it selects (and all letters' chains); fails in one line."""
    from streams.delivery.replay import select

    settings = load_settings()
    require_kafka(settings)
    selection = _selection(settings, stage, reason, since, ids, statuses)
    try:
        selected, everything = select(settings, selection)
    except Exception as exc:
        fail(f"cannot read {settings.topic_dlq} from {settings.kafka_bootstrap}: {exc}")
    return settings, selection, selected, everything


def _line(chain) -> str:
    d = chain.latest.letter
    origin = d.url or d.source or (f"key {d.key}" if d.key else f"{d.topic}[{d.partition}]@{d.offset}")
    tries = f"  attempt {chain.attempts}" if chain.attempts > 1 else ""
    state = "" if chain.status == "open" else f"  [{chain.status}]"
    return f"{chain.id:>8}  {d.failed_at}  {d.stage:<7} {d.reason}  {origin}{tries}{state}"


@app.command("show", epilog=SETTINGS)
def dlq_show(
    stage: str | None = typer.Option(None, metavar="STAGE", help=STAGE_HELP),
    reason: str | None = typer.Option(None, metavar="TEXT", help=REASON_HELP),
    since: str | None = typer.Option(None, metavar="DATE", help=SINCE_HELP),
    letter_id: list[str] | None = typer.Option(None, "--id", metavar="P@O", help=ID_HELP),
    show_all: bool = typer.Option(False, "--all", help="also the letters already replayed or discarded"),
    limit: int = typer.Option(20, min=1, metavar="N", help="most letters to list (the counts are of all)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per letter, newest first"),
) -> None:
    """List dead letters, newest first: id, time, stage, reason, URL or source; then the counts by reason.

    A message that failed again after a replay is one letter with its
    attempts, not a letter per failure. Open letters only, unless --all.
    """
    from streams.delivery.replay import counts_by_reason

    statuses = ("open", "replayed", "discarded") if show_all else ("open",)
    _, _, selected, everything = _select(stage, reason, since, letter_id, statuses)
    shown = selected[:limit]
    if as_json:
        for chain in shown:
            sys.stdout.buffer.write(orjson.dumps(chain.to_json()) + b"\n")
        sys.stdout.flush()
        return
    for chain in shown:
        out.print(escape(_line(chain)), highlight=False)
    more = f" (the newest {len(shown)} listed)" if len(shown) < len(selected) else ""
    out.print(f"{len(selected)} dead letter(s){more}", highlight=False)
    for why, n in counts_by_reason(selected):
        out.print(f"  {n:>6}  {escape(why)}", highlight=False)
    states: dict[str, int] = {}
    for chain in everything:
        states[chain.status] = states.get(chain.status, 0) + 1
    out.print(
        "on the topic: " + ", ".join(f"{states.get(k, 0)} {k}" for k in ("open", "replayed", "discarded")),
        highlight=False,
    )


@app.command("replay", epilog=SETTINGS)
def dlq_replay(
    stage: str | None = typer.Option(None, metavar="STAGE", help=STAGE_HELP),
    reason: str | None = typer.Option(None, metavar="TEXT", help=REASON_HELP),
    since: str | None = typer.Option(None, metavar="DATE", help=SINCE_HELP),
    letter_id: list[str] | None = typer.Option(
        None, "--id", metavar="P@O", help=ID_HELP + "; an id replays it even if it was replayed before"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="say what would be replayed, send nothing"),
) -> None:
    """Send open dead letters back to the stage that failed them (a plugin's to that plugin), once each.

    Letters whose reason the bytes alone decide (binary input, invalid JSON,
    ...) are left alone unless named with --id or --reason: they would only
    fail again. Each letter replayed is recorded, so the next replay does not
    send it again; if it fails again it comes back as the next attempt of the
    same letter.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from streams.cli.common import err
    from streams.delivery.replay import plan_replay, replay

    settings, selection, selected, _ = _select(stage, reason, since, letter_id)
    plan = plan_replay(selected, selection, _known_stages(settings))
    verb = "would replay" if dry_run else "replaying"
    for chain in plan.send:
        d = chain.latest.letter
        out.print(escape(f"{verb} {chain.id} ({d.stage}: {d.reason}) to {d.topic}"), highlight=False)
    for chain, why in plan.skipped:
        out.print(escape(f"left alone {chain.id}: {why}"), highlight=False)
    if dry_run:
        out.print(f"dry run: would replay {len(plan.send)} dead letter(s), {len(plan.skipped)} left alone")
        return
    try:
        with Progress(
            TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
        ) as bar:
            task = bar.add_task("replay", total=len(plan.send))
            done = replay(settings, plan, progress=lambda sent: bar.update(task, completed=sent))
    except Exception as exc:
        fail(f"replay failed, nothing recorded (a new replay sends them again): {exc}")
    skipped = f", {len(plan.skipped)} left alone" if plan.skipped else ""
    out.print(f"replayed {len(done)} dead letter(s){skipped}")


@app.command("discard", epilog=SETTINGS)
def dlq_discard(
    stage: str | None = typer.Option(None, metavar="STAGE", help=STAGE_HELP),
    reason: str | None = typer.Option(None, metavar="TEXT", help=REASON_HELP),
    since: str | None = typer.Option(None, metavar="DATE", help=SINCE_HELP),
    letter_id: list[str] | None = typer.Option(None, "--id", metavar="P@O", help=ID_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="say what would be discarded, record nothing"),
) -> None:
    """Mark open dead letters handled without replaying them (they stay on the topic, shown with --all)."""
    from streams.delivery.replay import discard

    if not (stage or reason or since or letter_id):
        fail("say which letters to discard: --id, --reason, --stage or --since")
    settings, _, selected, _ = _select(stage, reason, since, letter_id)
    if dry_run:
        for chain in selected:
            out.print(escape(f"would discard {_line(chain)}"), highlight=False)
        out.print(f"dry run: would discard {len(selected)} dead letter(s)")
        return
    done = discard(settings, selected)
    out.print(f"discarded {len(done)} dead letter(s)")
