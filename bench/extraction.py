"""Article-extraction benchmark: our parser against plain trafilatura.

Runs both input modes over the development set (``html/ID.html.gz``,
``text/ID.txt``, ``ground-truth.json``; see the data README) and prints body
F1 / precision / recall with the benchmark's own measure (word 4-gram
shingles, each page weighted equally: ``../shared/tools/bodyscore.py``), plus
HTML-mode pages per second on one core for ours and for trafilatura.

usage::

    .venv/bin/python bench/extraction.py [--data DIR] [--tools DIR]
        [--mode html|text|both] [--dump OUT_DIR] [--worst N]

``--data`` defaults to ``../shared/data/article-extraction`` relative to the
repository root (the folder beside the project); ``--tools`` to
``../shared/tools``. ``--dump`` writes ``predictions-*.json`` for
``bodyscore.py``; ``--worst`` lists the N lowest-F1 pages of each mode.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Literal

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO.parent / "shared" / "data" / "article-extraction"
DEFAULT_TOOLS = REPO.parent / "shared" / "tools"


def load_bodyscore(tools: Path):
    """Import ``bodyscore.py`` from ``tools`` as a module (raises FileNotFoundError)."""
    path = tools / "bodyscore.py"
    if not path.is_file():
        raise FileNotFoundError(f"no bodyscore.py in {tools}")
    spec = importlib.util.spec_from_file_location("bodyscore", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_set(data: Path) -> tuple[dict, dict[str, bytes], dict[str, bytes]]:
    """Return ``(ground_truth, html_by_id, text_by_id)``; pages are raw bytes."""
    truth = json.loads((data / "ground-truth.json").read_text("utf-8"))
    html, text = {}, {}
    for key in sorted(truth):
        hp = data / "html" / f"{key}.html.gz"
        tp = data / "text" / f"{key}.txt"
        if hp.is_file():
            html[key] = gzip.decompress(hp.read_bytes())
        if tp.is_file():
            text[key] = tp.read_bytes()
    return truth, html, text


def score(bodyscore, truth: dict, preds: dict[str, str]) -> tuple[tuple[float, float, float], dict[str, float]]:
    """Score predictions ``{id: body}``; return ``((f1, p, r), {id: page_f1})``."""
    rows, per_page = [], {}
    for key in sorted(truth):
        row = bodyscore.page(truth[key].get("articleBody", ""), preds.get(key, ""))
        rows.append(row)
        tp, fp, fn = row
        per_page[key] = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 1.0
    return bodyscore.prf(rows), per_page


def run_ours(
    pages: dict[str, bytes], truth: dict, content_type: Literal["html", "text"]
) -> tuple[dict[str, str], float, int]:
    """Parse every page with our parser; return ``(bodies, seconds, failures)``."""
    from streams.parsing import ParseRejected, parse
    from streams.records import RawArticle

    preds, failures = {}, 0
    start = time.process_time()
    for key, content in pages.items():
        raw = RawArticle(content=content, content_type=content_type, url=truth[key].get("url"))
        try:
            preds[key] = parse(raw).body
        except ParseRejected as exc:
            failures += 1
            print(f"  rejected {key[:12]}: {exc}", file=sys.stderr)
            preds[key] = ""
    return preds, time.process_time() - start, failures


def run_trafilatura(pages: dict[str, bytes]) -> tuple[dict[str, str], float]:
    """Run ``trafilatura.extract`` (default settings) on each HTML page."""
    import trafilatura

    preds = {}
    start = time.process_time()
    for key, content in pages.items():
        preds[key] = trafilatura.extract(content) or ""
    return preds, time.process_time() - start


def line(name: str, prf: tuple[float, float, float], extra: str = "") -> str:
    f, p, r = prf
    return f"  {name:<28} F1 {f:.3f}  precision {p:.3f}  recall {r:.3f}{extra}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--tools", type=Path, default=DEFAULT_TOOLS)
    ap.add_argument("--mode", choices=("html", "text", "both"), default="both")
    ap.add_argument("--dump", type=Path, default=None)
    ap.add_argument("--worst", type=int, default=0)
    args = ap.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):  # one core, as the target says
        try:
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        except OSError:
            pass
    bodyscore = load_bodyscore(args.tools)
    truth, html, text = load_set(args.data)
    print(f"development set: {args.data} ({len(truth)} pages: {len(html)} HTML, {len(text)} text)")

    dumps: dict[str, dict[str, str]] = {}
    if args.mode in ("html", "both"):
        ours, secs, fails = run_ours(html, truth, "html")
        theirs, tsecs = run_trafilatura(html)
        (ours_prf, ours_pp), (their_prf, _) = score(bodyscore, truth, ours), score(bodyscore, truth, theirs)
        print("HTML mode")
        print(line("newsstream", ours_prf, f"  {len(html) / secs:6.1f} pages/s  rejected {fails}"))
        print(line("trafilatura 2.3.1 (default)", their_prf, f"  {len(html) / tsecs:6.1f} pages/s"))
        dumps["html-ours"], dumps["html-trafilatura"] = ours, theirs
        if args.worst:
            for key in sorted(ours_pp, key=ours_pp.__getitem__)[: args.worst]:
                print(f"    {ours_pp[key]:.3f} {key}")
    if args.mode in ("text", "both"):
        ours, secs, fails = run_ours(text, truth, "text")
        whole = {k: v.decode("utf-8", "replace") for k, v in text.items()}
        (ours_prf, ours_pp), (whole_prf, _) = score(bodyscore, truth, ours), score(bodyscore, truth, whole)
        print("Plain-text mode (text/ID.txt)")
        print(line("newsstream", ours_prf, f"  {len(text) / secs:6.1f} pages/s  rejected {fails}"))
        print(line("whole page text", whole_prf))
        dumps["text-ours"] = ours
        if args.worst:
            for key in sorted(ours_pp, key=ours_pp.__getitem__)[: args.worst]:
                print(f"    {ours_pp[key]:.3f} {key}")
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        for name, preds in dumps.items():
            out = {k: {"articleBody": v} for k, v in preds.items()}
            (args.dump / f"predictions-{name}.json").write_text(json.dumps(out, ensure_ascii=False), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
