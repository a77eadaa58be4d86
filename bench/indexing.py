"""Indexing benchmark (issue 5): our indexer against bare ``helpers.async_bulk``.

Three figures over the same N documents (enriched articles with the
development set's bodies, cycled, each with a distinct id), into the same
local Elasticsearch, in the same run, each run into a fresh index made by
``ensure_index`` (same template, same refresh interval):

* bare: ``indexers.elasticsearch.writer.bare_async_bulk`` (``helpers.async_bulk``,
  chunk_size = ``bulk_max_docs``), in this process;
* ours, direct: ``BulkWriter.write`` over the same documents (same chunking:
  ``bulk_max_docs`` per request), in this process;
* ours, merged: ``MergingWriter.write_merged`` (what the index agent runs: one
  article, one document) in the agent's batches, in this process;
* ours, end to end: the N records are published to an isolated
  ``articles.enriched`` topic BEFORE the worker starts; then
  ``python -m streams.cli worker --only index`` runs with isolated settings
  (own consumer group and alias per run, same topic). Worker start-up is
  excluded: the time runs from the start of the first bulk request (the
  agent's ``indexed batch`` log line minus its ``seconds``) to the log line
  of the batch that completes N. A second figure, from search visibility
  (first document visible to N visible, ``_count`` polled every 0.1 s), is
  printed too; it includes refreshes.

Runs alternate (ours direct, bare, ours end to end, bare) ``--repeat`` times;
best and median documents/s and the ratios ours/bare (target >= 0.8) are
printed. Everything the run creates (indices, templates, topics, the
consumer groups' faust data dirs) is deleted at the end.

    .venv/bin/python bench/indexing.py [--n 5000] [--repeat 3] [--data DIR]
        [--skip-e2e]

``--data`` defaults to ``../shared/data/article-extraction`` relative to the
repository root (its ``ground-truth.json`` gives the bodies and URLs).

This module also holds the harness that ``bench/pipeline.py`` uses: isolated
settings, a worker child process, peak memory of a process tree, clean-up.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from streams.settings import Settings
from streams.topics import namespace_env

DEFAULT_DATA = REPO.parent / "shared" / "data" / "article-extraction"


# ---------------------------------------------------------------- harness (shared with pipeline.py)


def isolated_env(tag: str, **extra: str) -> dict[str, str]:
    """NEWSSTREAM_* variables for topics, consumer group and alias unique to this run."""
    uid = f"bench{tag}{uuid.uuid4().hex[:8]}"
    env = {
        **namespace_env(uid),
        "NEWSSTREAM_CONSUMER_SESSION_TIMEOUT_SECONDS": "10",
    }
    env.update(extra)
    return env


def settings_from(env: dict[str, str]) -> Settings:
    """Settings as a worker started with ``env`` (on top of this environment) builds them."""
    # strings, as in the environment: pydantic-settings parses them
    fields: dict[str, Any] = {k[len("NEWSSTREAM_") :].lower(): v for k, v in env.items() if k.startswith("NEWSSTREAM_")}
    return Settings(**fields)


def proc_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def vm_kib(pid: int, field: str = "VmHWM") -> int:
    """A ``/proc/PID/status`` memory field in KiB (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Worker:
    """A ``python -m streams.cli worker`` child with its own log, run in a scratch dir
    (faust writes ``<app_id>-data`` into its working directory)."""

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        only: list[str] | None = None,
        cwd: Path | None = None,
        prefix: list[str] | None = None,
    ) -> None:
        self.env, self.log, self.only = env, log, only or []
        self.cwd = cwd or log.parent
        self.prefix = prefix or []
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.hwm: dict[int, int] = {}

    def start(self) -> Worker:
        cmd = [*self.prefix, sys.executable, "-m", "streams.cli", "worker"]
        for name in self.only:
            cmd += ["--only", name]
        pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                start_new_session=True,
                env={**os.environ, "PYTHONPATH": pythonpath, **self.env},
            )
        self.started = time.monotonic()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_log(self, pattern: str, count: int = 1, timeout: float = 180) -> float:
        """Wait until ``pattern`` (regex) occurs ``count`` times in the log; return seconds waited."""
        t0 = time.monotonic()
        rx = re.compile(pattern)
        while time.monotonic() - t0 < timeout:
            if len(rx.findall(self.text())) >= count:
                return time.monotonic() - t0
            if self.proc is None or not self.alive():
                raise RuntimeError(
                    f"worker exited ({self.proc and self.proc.returncode}); log tail:\n{self.text()[-3000:]}"
                )
            time.sleep(0.2)
        raise TimeoutError(f"no {count}x {pattern!r} in the worker log after {timeout:.0f} s:\n{self.text()[-3000:]}")

    def sample_memory(self) -> dict[int, int]:
        """Record VmHWM (peak RSS, KiB) of the worker and its children; return {pid: KiB}."""
        if self.proc is not None:
            for pid in proc_tree(self.proc.pid):
                kib = vm_kib(pid)
                if kib:
                    self.hwm[pid] = max(self.hwm.get(pid, 0), kib)
        return dict(self.hwm)

    def stop(self, timeout: float = 60) -> None:
        if self.proc is None or not self.alive():
            return
        self.sample_memory()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


LOG_TS = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")
BATCH_RE = re.compile(r"indexed batch: count=(\d+) failed=(\d+).*seconds=([\d.]+)")


def indexed_batches(log_text: str) -> list[tuple[float, int, int, float]]:
    """``(epoch seconds, count, failed, bulk seconds)`` of every ``indexed batch`` line of a worker log."""
    out = []
    for line in log_text.splitlines():
        m, b = LOG_TS.match(line), BATCH_RE.search(line)
        if m and b:
            ts = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out.append((ts, int(b.group(1)), int(b.group(2)), float(b.group(3))))
    return out


@contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (the figures go to stdout) while a phase runs; yields ``update(done)``.

    Shown only on a terminal, refreshed twice a second (the benchmark's own
    CPU is measured too)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        refresh_per_second=2,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


def es_client(settings: Settings):
    from indexers.elasticsearch.client import sync_client

    return sync_client(settings, request_timeout=60)


def count(es, alias: str) -> int:
    """Documents visible to search under ``alias`` (0 when it does not exist yet)."""
    try:
        return int(es.count(index=alias)["count"])
    except Exception:
        return 0


def delete_aliases(es, aliases: list[str]) -> None:
    """Delete the versioned indices and the templates made by ``ensure_index`` for ``aliases``."""
    for alias in aliases:
        try:
            es.options(ignore_status=404).indices.delete(index=f"{alias}-v*", allow_no_indices=True)
            es.options(ignore_status=404).indices.delete_index_template(name=alias)
        except Exception as exc:
            print(f"  clean-up of {alias}: {exc}", file=sys.stderr)


def delete_topics(settings: Settings, extra: list[str] | None = None) -> None:
    from streams import kafka

    names = [settings.topic_raw, settings.topic_parsed, settings.topic_enriched, settings.topic_dlq, *(extra or [])]
    try:
        admin = kafka.admin(settings)
        existing = set(admin.list_topics())
        # and faust's own topics of the run's consumer groups (<app_id>...-__assignor-__leader)
        gone = [t for t in existing if t in names or t.startswith(settings.app_id)]
        if gone:
            admin.delete_topics(gone)
        admin.close()
    except Exception as exc:
        print(f"  clean-up of topics: {exc}", file=sys.stderr)


def machine() -> str:
    model = "?"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        mem = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal")) / 1024 / 1024
    except (OSError, StopIteration):
        mem = 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores} cores ({os.cpu_count()} online), {model}, {mem:.0f} GiB RAM"


def rate_line(name: str, n: int, secs: list[float], unit: str = "docs/s") -> str:
    return (
        f"  {name:<26} {n / min(secs):8.0f} {unit} best, {n / statistics.median(secs):8.0f} median  (runs: "
        + ", ".join(f"{s:.2f}s" for s in secs)
        + ")"
    )


# ---------------------------------------------------------------- documents


def enriched_articles(data: Path, n: int) -> list:
    """N EnrichedArticle objects: the development set's bodies cycled, distinct ids and URLs.

    The name lists are cheap stand-ins for NER output (capitalised words), so
    the keyword fields hold about as many values as real ones.
    """
    from streams.records import EnrichedArticle, stable_id

    truth = json.loads((data / "ground-truth.json").read_text("utf-8"))
    items = [(k, v) for k, v in sorted(truth.items()) if (v.get("articleBody") or "").strip()]
    out = []
    for i in range(n):
        key, v = items[i % len(items)]
        body = v["articleBody"]
        words = body.split()
        caps = [w.strip(".,;:\"'()") for w in words if w[:1].isupper()]
        names = list(dict.fromkeys(c for c in caps if len(c) > 3))[:12]
        url = f"{v.get('url') or 'https://example.invalid/' + key}#bench-{i}"
        out.append(
            EnrichedArticle(
                id=stable_id(url),
                # a URL of its own: the copies of one body are distinct articles, as the parse stage
                # makes them (without it, write_merged would rightly merge the copies: same title and body)
                canonical_url=url,
                body=body,
                content_type="html",
                url=url,
                title=" ".join(words[:12]),
                authors=names[:1],
                publisher="Bench Publisher",
                published_at="2024-05-01T12:00:00+00:00",
                language="en",
                word_count=len(words),
                reading_time_min=max(1, len(words) // 230),
                source="bench",
                fetched_at="2024-05-01T12:05:00+00:00",
                entities=[{"name": nm, "label": "ORG", "mentions": 1, "country": None} for nm in names],
                persons=names[:3],
                organizations=names[3:6],
                places=names[6:9],
                countries=["US"],
                keywords=names[:10],
                tags=names[:5],
                fingerprint=f"{i:016x}",
            )
        )
    return out


# ---------------------------------------------------------------- runs


async def _run_direct(settings: Settings, alias: str, docs: list, which: str) -> float:
    from indexers.elasticsearch.client import async_client
    from indexers.elasticsearch.merging import MergingWriter
    from indexers.elasticsearch.writer import bare_async_bulk

    client = async_client(settings, request_timeout=60, retry_on_timeout=False, max_retries=0)
    try:
        t0 = time.perf_counter()
        if which in ("ours", "merged"):
            writer = MergingWriter(
                client,
                alias,
                max_docs=settings.bulk_max_docs,
                max_bytes=settings.bulk_max_bytes,
                max_in_flight=settings.bulk_max_in_flight,
            )
            # the index agent writes in batches of bulk_max_docs * bulk_max_in_flight, each merged
            # (a look-up and a multi-get before the bulk requests): so does this run
            if which == "merged":
                batch = settings.bulk_max_docs * settings.bulk_max_in_flight
                ok = failed = 0
                for start in range(0, len(docs), batch):
                    result = await writer.write_merged(docs[start : start + batch])
                    ok, failed = ok + result.indexed, failed + len(result.failures)
            else:
                result = await writer.write(docs)
                ok, failed = result.indexed, len(result.failures)
        else:
            ok, errors = await bare_async_bulk(client, alias, docs, chunk_size=settings.bulk_max_docs)
            failed = len(errors)
        secs = time.perf_counter() - t0
    finally:
        await client.close()
    if ok != len(docs) or failed:
        print(f"  WARNING {which} into {alias}: {ok} indexed, {failed} failed of {len(docs)}", file=sys.stderr)
    return secs


def run_direct(settings: Settings, es, alias: str, docs: list, which: str) -> float:
    from indexers.elasticsearch.template import ensure_index

    ensure_index(es, alias, 1, settings.refresh_interval)
    return asyncio.run(_run_direct(settings, alias, docs, which))


def run_e2e(env: dict[str, str], es, n: int, scratch: Path, r: int) -> tuple[float, float | None, float]:
    """One end-to-end run over the already published topic; returns
    ``(log-based seconds, visibility-based seconds, worker start-up seconds)``."""
    run_env = {
        **env,
        "NEWSSTREAM_APP_ID": f"{env['NEWSSTREAM_APP_ID']}-e2e{r}",
        "NEWSSTREAM_INDEX_ALIAS": f"{env['NEWSSTREAM_INDEX_ALIAS']}-e2e{r}",
    }
    alias = run_env["NEWSSTREAM_INDEX_ALIAS"]
    worker = Worker(run_env, scratch / f"worker-index-{r}.log", only=["index"], cwd=scratch).start()
    try:
        first_t: float | None = None
        first_n: int | None = None
        deadline = time.monotonic() + 600
        with progress(f"end to end, round {r + 1}: documents searchable", n) as update:
            while time.monotonic() < deadline:
                c = count(es, alias)
                now = time.time()
                update(c)
                if c and first_t is None:
                    first_t, first_n = now, c
                if c >= n:
                    break
                if not worker.alive():
                    raise RuntimeError(f"index worker exited:\n{worker.text()[-3000:]}")
                time.sleep(0.1)
        all_t = time.time()
        worker.wait_log(r"indexed batch", 1, 30)
        time.sleep(0.5)  # the last log line is written after the bulk returns
        batches = indexed_batches(worker.text())
        total, t_end = 0, None
        for ts, c, _failed, _secs in batches:
            total += c
            if total >= n and t_end is None:
                t_end = ts
        t_start = batches[0][0] - batches[0][3]
        startup = t_start - (time.time() - (time.monotonic() - worker.started))
        log_secs = (t_end or batches[-1][0]) - t_start
        # scaled to N documents; not measurable when the first count already sees all N
        vis_secs = (
            (all_t - first_t) * n / (n - first_n)
            if first_t is not None and first_n is not None and first_n < n
            else None
        )
        if total < n:
            print(f"  WARNING end-to-end run {r}: only {total} of {n} indexed per the log", file=sys.stderr)
        ends = [ts for ts, *_ in batches]
        gaps = [b - a for a, b in itertools.pairwise(ends)]
        bulk = sum(s for *_, s in batches)
        print(
            f"    run {r + 1}: {len(batches)} batches (sizes {', '.join(str(c) for _, c, _, _ in batches[:12])}"
            f"{'...' if len(batches) > 12 else ''}); bulk requests {bulk:.2f} s of {log_secs:.2f} s; "
            f"longest gap between batches {max(gaps, default=0):.2f} s; first visible at {first_n} docs"
        )
        return log_secs, vis_secs, startup
    finally:
        worker.stop()


def publish_enriched(settings: Settings, records: list) -> float:
    from streams.kafka import producer
    from streams.publish import ensure_topics

    ensure_topics(settings)
    prod = producer(settings)
    t0 = time.perf_counter()
    for rec in records:
        prod.send(settings.topic_enriched, key=rec.id.encode(), value=rec.to_bytes())
    prod.flush()
    prod.close()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="documents per run")
    ap.add_argument(
        "--repeat", type=int, default=3, help="rounds of (ours direct, ours merged, bare, ours end to end, bare)"
    )
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="development set folder (ground-truth.json)")
    ap.add_argument("--skip-e2e", action="store_true", help="no end-to-end runs through the index agent")
    ap.add_argument("--keep-logs", action="store_true", help="keep the worker logs (their folder is printed)")
    args = ap.parse_args(argv)

    from indexers.elasticsearch.writer import to_document
    from streams.records import now_iso

    env = isolated_env("idx")
    settings = settings_from(env)
    es = es_client(settings)
    scratch = Path(tempfile.mkdtemp(prefix="newsstream-bench-indexing-"))
    aliases: list[str] = []

    records = enriched_articles(args.data, args.n)
    ingested = now_iso()
    docs = [to_document(r.to_dict(), ingested) for r in records]
    doc_bytes = sum(len(r.to_bytes()) for r in records)
    from indexers.elasticsearch.client import address
    from streams.local.services import ES_VERSION

    print(f"machine: {machine()}; Elasticsearch {ES_VERSION} at {address(settings)}")
    print(
        f"documents: {args.n} enriched articles ({doc_bytes / 1e6:.1f} MB of JSON, "
        f"{doc_bytes / args.n / 1024:.1f} KiB each) from {args.data.resolve()}"
    )
    print(
        f"settings: bulk_max_docs={settings.bulk_max_docs} bulk_max_bytes={settings.bulk_max_bytes} "
        f"refresh_interval={settings.refresh_interval}; repeat {args.repeat}"
    )

    ours_s: list[float] = []
    merged_s: list[float] = []
    bare_s: list[float] = []
    e2e_s: list[float] = []
    vis_s: list[float] = []
    try:
        if not args.skip_e2e:
            secs = publish_enriched(settings, records)
            print(f"published {args.n} records to {settings.topic_enriched} in {secs:.1f} s (before the worker starts)")
        # warm-up: connections, first-request costs on both sides, not timed
        warm = f"{env['NEWSSTREAM_INDEX_ALIAS']}-warm"
        aliases.append(warm)
        run_direct(settings, es, warm, docs[:500], "ours")
        run_direct(settings, es, warm, docs[:500], "bare")
        for r in range(args.repeat):
            for which in ("ours", "merged", "bare", "e2e", "bare"):
                if which == "e2e":
                    if args.skip_e2e:
                        continue
                    aliases.append(f"{env['NEWSSTREAM_INDEX_ALIAS']}-e2e{r}")
                    log_secs, vis, startup = run_e2e(env, es, args.n, scratch, r)
                    e2e_s.append(log_secs)
                    if vis:
                        vis_s.append(vis)
                    print(
                        f"  round {r + 1}: end to end {args.n / log_secs:.0f} docs/s "
                        f"(visibility {f'{args.n / vis:.0f}' if vis else 'n/a'}; "
                        f"worker start-up {startup:.1f} s, excluded)",
                        flush=True,
                    )
                    continue
                alias = f"{env['NEWSSTREAM_INDEX_ALIAS']}-{which}{r}{len(aliases)}"
                aliases.append(alias)
                secs = run_direct(settings, es, alias, docs, which)
                {"ours": ours_s, "merged": merged_s, "bare": bare_s}[which].append(secs)
                print(f"  round {r + 1}: {which:<6} {args.n / secs:.0f} docs/s", flush=True)
    finally:
        delete_aliases(es, aliases)
        delete_topics(settings)
        if args.keep_logs:
            print(f"worker logs kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    print("results (documents/s; ratios against bare async_bulk in the same run)")
    print(rate_line("bare helpers.async_bulk", args.n, bare_s))
    print(rate_line("ours BulkWriter.write", args.n, ours_s))
    print(rate_line("ours write_merged", args.n, merged_s))
    bb, bm = args.n / min(bare_s), args.n / statistics.median(bare_s)
    print(
        f"  ratio direct/bare:      {args.n / min(ours_s) / bb:.3f} best, "
        f"{args.n / statistics.median(ours_s) / bm:.3f} median; target >= 0.8"
    )
    print(
        f"  ratio merged/bare:      {args.n / min(merged_s) / bb:.3f} best, "
        f"{args.n / statistics.median(merged_s) / bm:.3f} median; target >= 0.8"
    )
    if e2e_s:
        print(rate_line("ours end to end (agent)", args.n, e2e_s))
        if vis_s:
            print(rate_line("  by search visibility", args.n, vis_s))
        print(
            f"  ratio end-to-end/bare:  {args.n / min(e2e_s) / bb:.3f} best, "
            f"{args.n / statistics.median(e2e_s) / bm:.3f} median; target >= 0.8"
            + (f" (visibility-based: {args.n / min(vis_s) / bb:.3f} best)" if vis_s else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
