"""What running the parse and enrich stages in child processes costs (issue 20).

The stages' work runs in a child process each (:mod:`streams.isolation`), so
that a message over its budget can be killed and a crash lost no more than
that message. This measures, in one run, on the development set's pages
(``html/*.html.gz`` and ``text/*.txt``; the parsed articles for enrich):

1. **parse**: the pages parsed in this process (``parse(decode_raw(...))``,
   as the agent did before) against the same pages sent one at a time to the
   parse stage's child (:class:`~streams.isolation.StagePool` with
   :func:`streams.stages.parse_work`), the agent's path now. The
   difference per page is the cost of the isolation: pickling the message
   and the record each way and the pipe's round trip.
2. **enrich**: the parsed articles enriched here in batches of
   ``--batch`` (``iter_enrich`` over the records' bytes, as the child does)
   against the same batches sent to the enrich stage's child
   (:func:`streams.stages.enrich_work`, ``together=True``).
3. **start**: seconds from starting a child to its being ready (the
   replacement of a child killed over its budget costs this: the enrich
   child loads the spaCy model again).
4. **memory**: peak resident memory (``VmHWM``) of each child after its
   work, of a fresh interpreter that imports what the worker's own process
   now imports (faust, the agents, the outbox: no parser, no spaCy), and of
   one that also imports the parser and loads the spaCy model, as the
   worker's process did before.

The in-process and child runs alternate ``--repeat`` times; the medians are
printed with the spread (min-max). The machine is shared: read ratios, and
the spread.

    .venv/bin/python bench/isolation.py [--repeat 3] [--batch 32] [--data DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO.parent / "shared" / "data" / "article-extraction"

from streams.isolation import Failure, StagePool
from streams.records import ParsedArticle, RawArticle, encode_raw
from streams.settings import get_settings


def _pages(data: Path) -> list[bytes]:
    """The development pages as raw messages (envelopes), HTML then text."""
    out = []
    for path in sorted((data / "html").glob("*.html.gz")):
        out.append(encode_raw(RawArticle(content=gzip.decompress(path.read_bytes()), content_type="html")))
    for path in sorted((data / "text").glob("*.txt")):
        out.append(encode_raw(RawArticle(content=path.read_bytes(), content_type="text")))
    return out


def _hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _interpreter_mib(code: str) -> float:
    """Peak resident MiB of a fresh interpreter running ``code``."""
    probe = code + "\nprint(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    return int(out.stdout.split()[-1]) / 1024


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


async def _child_run(pool: StagePool, items: list, batch: int, together: bool) -> tuple[float, list]:
    started = time.perf_counter()
    answers: list = []
    for i in range(0, len(items), batch):
        answers += await pool.map(items[i : i + batch], together=together)
    return time.perf_counter() - started, answers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32, help="articles per enrich request (the agent's batch)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()

    from streams.enrichment import iter_enrich, load_nlp
    from streams.stages import parse_message

    settings = get_settings()
    messages = _pages(args.data)
    print(f"{len(messages)} pages ({sum(map(len, messages)) / 1e6:.1f} MB of envelopes); repeats: {args.repeat}")

    parsed = [a for a in (parse_message(m, {}) for m in messages) if a[0] == "ok"]
    records = [answer[2] for answer in parsed]
    print(f"{len(records)} parsed articles for enrich")
    nlp = load_nlp(settings.spacy_model)
    list(iter_enrich([ParsedArticle.from_bytes(records[0])], nlp))  # warm, as the child is

    parse_pool = StagePool("streams.stages:parse_work", "parse", 600.0, "-")
    enrich_pool = StagePool("streams.stages:enrich_work", "enrich", 600.0, "-")
    times: dict[str, list[float]] = {k: [] for k in ("parse here", "parse child", "enrich here", "enrich child")}
    starts: dict[str, list[float]] = {"parse": [], "enrich": []}

    async def run() -> dict[str, float]:
        hwm = {}
        for _ in range(args.repeat):
            for name, pool in (("parse", parse_pool), ("enrich", enrich_pool)):
                await pool.close()  # a fresh child each round: its start is measured
                t0 = time.perf_counter()
                await pool.start(retry=False)
                starts[name].append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            here = [parse_message(m, {}) for m in messages]
            times["parse here"].append(time.perf_counter() - t0)
            took, answers = await _child_run(parse_pool, [(m, {}, None) for m in messages], 100, together=False)
            times["parse child"].append(took)
            assert [a[:2] for a in answers] == [a[:2] for a in here], "the child parsed differently"

            t0 = time.perf_counter()
            for i in range(0, len(records), args.batch):
                list(iter_enrich([ParsedArticle.from_bytes(r) for r in records[i : i + args.batch]], nlp))
            times["enrich here"].append(time.perf_counter() - t0)
            took, answers = await _child_run(enrich_pool, records, args.batch, together=True)
            times["enrich child"].append(took)
            assert not any(isinstance(a, Failure) for a in answers)
        for name, pool in (("parse", parse_pool), ("enrich", enrich_pool)):
            assert pool.pid is not None
            hwm[name] = _hwm_mib(pool.pid)
            await pool.close()
        return hwm

    hwm = asyncio.run(run())
    n_pages, n_articles = len(messages), len(records)
    print("\nseconds for the whole set: median (min-max)")
    for key, values in times.items():
        print(f"  {key:13} {_spread(values)}")
    for stage, n in (("parse", n_pages), ("enrich", n_articles)):
        here, child = times[f"{stage} here"], times[f"{stage} child"]
        ratios = [c / h for c, h in zip(child, here)]
        extra = [(c - h) / n * 1000 for c, h in zip(child, here)]
        print(f"  {stage}: child / here {_spread(ratios)}; ms more per item {_spread(extra)}")
    print("\nseconds from start to ready, median (min-max)")
    for name, values in starts.items():
        print(f"  {name:7} {_spread(values)}")

    worker_now = _interpreter_mib("import faust, streams.agents, streams.runner")
    worker_before = _interpreter_mib(
        "import faust, streams.agents, streams.runner, streams.parsing.html, trafilatura\n"
        "from streams.enrichment import load_nlp\nfrom streams.enrichment.gazetteer import gazetteer\n"
        f"load_nlp({settings.spacy_model!r}); gazetteer()"
    )
    bare = _interpreter_mib("pass")
    this = _hwm_mib(os.getpid())
    print("\npeak resident MiB (VmHWM)")
    print(f"  parse child after its work        {hwm['parse']:7.0f}")
    print(f"  enrich child after its work       {hwm['enrich']:7.0f}")
    print(f"  the worker's process, imports now {worker_now:7.0f}")
    print(f"  ... as before (parser + model)    {worker_before:7.0f}")
    print(f"  a bare interpreter                {bare:7.0f}")
    print(f"  this process (parsed and enriched the set here, as the worker's process did) {this:.0f}")
    total_now = worker_now + hwm["parse"] + hwm["enrich"]
    print(f"  now: worker + children {total_now:.0f} MiB; before: one process at least {worker_before:.0f} MiB")


if __name__ == "__main__":
    main()
