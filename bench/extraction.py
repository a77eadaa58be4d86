"""Article-extraction benchmark: body F1 with 5-fold cross-validation, speed, fields.

Runs over the development set (``html/ID.html.gz``, ``text/ID.txt``,
``ground-truth.json``; see the data README) and prints, for our HTML and
plain-text modes, trafilatura 2.3.1 (default ``extract``) and rs-trafilatura
0.1.1 (default ``extract``):

* body F1 / precision / recall with the benchmark's own measure (word 4-gram
  shingles, precision and recall averaged over pages, each page weighted
  equally: ``../shared/tools/bodyscore.py``), on all 121 pages ("plain");
* the 5-fold cross-validated F1: the pages are split into five folds (fixed
  seed); for each fold, the choices our extractors make (trafilatura's focus
  and the HTML vote's weights, threshold and furniture filter; the text
  mode's line costs) are
  made on the other four folds and the fold is scored with them. Printed:
  the mean of the five fold F1s, their minimum and maximum, and F1 / P / R of
  the 121 held-out predictions pooled. The tools we do not tune get the same
  folds (their CV figure is their plain figure, split by fold);
* pages per second on one core (CPU time of the extraction alone, the
  process pinned to one core), and the ratio to trafilatura's in the same run;
* fields: how often the text mode's title equals the HTML mode's, and the
  HTML mode's equals the page's ``og:title`` or an ``<h1>`` (and counting the
  ``<title>`` too; normalised: case, spaces, punctuation, site name), junk
  titles, pages without a date.

usage::

    .venv/bin/python bench/extraction.py [--data DIR] [--tools DIR]
        [--mode html|text|both] [--dump OUT_DIR] [--worst N] [--no-fields]

``--data`` defaults to ``../shared/data/article-extraction`` relative to the
repository root (the folder beside the project); ``--tools`` to
``../shared/tools``. ``--dump`` writes ``predictions-*.json`` for
``bodyscore.py``; ``--worst`` lists the N lowest-F1 pages of each mode.
rs-trafilatura is reported when it is installed (it is a dependency).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import importlib.util
import itertools
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.extraction_fields import fields_report, title_cv

DEFAULT_DATA = REPO.parent / "shared" / "data" / "article-extraction"
DEFAULT_TOOLS = REPO.parent / "shared" / "tools"
FOLDS, SEED = 5, 19

Row = tuple[float, float, float]  # bodyscore's per-page (tp, fp, fn) shares


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


def folds(keys: list[str], k: int = FOLDS, seed: int = SEED) -> list[list[str]]:
    """Split page ids into ``k`` folds (shuffled with a fixed seed)."""
    shuffled = sorted(keys)
    random.Random(seed).shuffle(shuffled)
    return [shuffled[i::k] for i in range(k)]


class Scorer:
    """Per-page rows and F1 of predictions against the ground truth."""

    def __init__(self, bodyscore, truth: dict):
        self.bodyscore, self.truth = bodyscore, truth

    def rows(self, preds: dict[str, str]) -> dict[str, Row]:
        return {k: self.bodyscore.page(self.truth[k].get("articleBody", ""), preds.get(k, "")) for k in preds}

    def prf(self, rows: list[Row]) -> tuple[float, float, float]:
        return self.bodyscore.prf(rows)


@dataclasses.dataclass
class Result:
    name: str
    plain: tuple[float, float, float]
    fold_f1: list[float]
    pooled: tuple[float, float, float]
    pages_per_s: float | None = None
    chosen: list[str] = dataclasses.field(default_factory=list)

    def lines(self, reference_speed: float | None) -> list[str]:
        f, p, r = self.plain
        cf, cp, cr = self.pooled
        speed = ""
        if self.pages_per_s:
            speed = f"  {self.pages_per_s:6.1f} pages/s"
            if reference_speed:
                speed += f" ({self.pages_per_s / reference_speed:.2f} x trafilatura)"
        return [
            f"  {self.name:<30} plain F1 {f:.3f} (P {p:.3f} R {r:.3f}){speed}",
            (
                f"  {'':<30} CV    F1 {statistics.mean(self.fold_f1):.3f} "
                f"(folds {min(self.fold_f1):.3f}-{max(self.fold_f1):.3f}, sd {statistics.pstdev(self.fold_f1):.3f}; "
                f"pooled F1 {cf:.3f} P {cp:.3f} R {cr:.3f})"
            ),
        ]


def fixed(name: str, scorer: Scorer, preds: dict[str, str], split: list[list[str]], speed=None) -> Result:
    """A tool with nothing to choose: its CV figure is its score on each fold."""
    rows = scorer.rows(preds)
    fold_f1 = [scorer.prf([rows[k] for k in fold])[0] for fold in split]
    every = [rows[k] for fold in split for k in fold]
    return Result(name, scorer.prf(list(rows.values())), fold_f1, scorer.prf(every), speed)


def cross_validate(
    name: str,
    scorer: Scorer,
    candidates: list,
    predict: Callable[[object, str], str],
    keys: list[str],
    split: list[list[str]],
    product_choice,
    speed=None,
) -> Result:
    """Choose among ``candidates`` on four folds, score the fifth, for each fold.

    ``predict(candidate, page_id)`` returns the body a candidate setting gives.
    The plain figure is that of ``product_choice`` (the setting the product
    ships) on all pages; the choice on all pages is printed beside it."""
    rows: dict[int, dict[str, Row]] = {c: {} for c in range(len(candidates))}

    def page_row(c: int, k: str) -> Row:
        if k not in rows[c]:
            rows[c][k] = scorer.rows({k: predict(candidates[c], k)})[k]
        return rows[c][k]

    def f1(c: int, pages: list[str]) -> float:
        return scorer.prf([page_row(c, k) for k in pages])[0]

    fold_f1, held, chosen = [], [], []
    for i, fold in enumerate(split):
        train = [k for j, other in enumerate(split) if j != i for k in other]
        best = max(range(len(candidates)), key=lambda c: (f1(c, train), -c))  # ties: the earlier (simpler) one
        chosen.append(str(candidates[best]))
        fold_f1.append(f1(best, fold))
        held += [page_row(best, k) for k in fold]
    everywhere = max(range(len(candidates)), key=lambda c: (f1(c, keys), -c))
    shipped = candidates.index(product_choice)
    result = Result(name, scorer.prf([page_row(shipped, k) for k in keys]), fold_f1, scorer.prf(held), speed)
    result.chosen = [*chosen, f"on all pages: {candidates[everywhere]}; shipped: {product_choice}"]
    return result


def time_parse(
    pages: dict[str, bytes], truth: dict, content_type: Literal["html", "text"]
) -> tuple[dict[str, str], float, dict]:
    """Parse every page with ``streams.parsing.parse``; return ``(bodies, pages/s, records)``."""
    from streams.parsing import ParseRejected, parse
    from streams.records import RawArticle

    bodies, records = {}, {}
    start = time.process_time()
    for key, content in pages.items():
        raw = RawArticle(content=content, content_type=content_type, url=truth[key].get("url"))
        try:
            records[key] = parse(raw)
            bodies[key] = records[key].body
        except ParseRejected as exc:
            print(f"  rejected {key[:12]}: {exc}", file=sys.stderr)
            bodies[key] = ""
    return bodies, len(pages) / (time.process_time() - start), records


def time_tool(pages: dict[str, bytes], extract: Callable[[bytes], str | None]) -> tuple[dict[str, str], float]:
    preds = {}
    start = time.process_time()
    for key, content in pages.items():
        preds[key] = extract(content) or ""
    return preds, len(pages) / (time.process_time() - start)


FOCI = ("balanced", "precision", "recall")


def html_candidates() -> list[tuple[str, tuple[float, float, float], float, bool]]:
    """The settings cross-validation chooses from: trafilatura's focus, the
    weights of (trafilatura, rs-trafilatura, Readability), the threshold, the
    furniture filter on or off."""
    out = []
    for focus in FOCI:
        for w_rs, w_rd in itertools.product((1.0, 1.5, 0.5), (1.0, 0.5, 1.5)):
            for threshold in (2.0, 1.5, 2.5, 1.0, 3.0):
                for furniture in (True, False):
                    out.append((focus, (1.0, w_rs, w_rd), threshold, furniture))
    return out


def run_html(args, scorer: Scorer, truth: dict, html: dict[str, bytes], split) -> tuple[list[Result], dict]:
    from streams.parsing import html as H
    from streams.parsing.charset import decode_bytes

    results, dumps = [], {}
    import trafilatura

    theirs, t_speed = time_tool(html, trafilatura.extract)
    ours, o_speed, records = time_parse(html, truth, "html")
    decoded = {k: decode_bytes(c, is_html=True)[0] for k, c in html.items()}
    tables = {(f, k): H.vote_table(page, truth[k].get("url"), f) for f in FOCI for k, page in decoded.items()}
    candidates = html_candidates()
    shipped = (H.FOCUS, tuple(H.WEIGHTS), H.THRESHOLD, H.DROP_FURNITURE)

    def predict(c, k: str) -> str:
        focus, weights, threshold, furniture = c
        table, titles = tables[focus, k]
        return "\n\n".join(H.body_lines(table, weights, threshold, furniture, titles))

    keys = sorted(html)
    results.append(cross_validate("newsstream HTML", scorer, candidates, predict, keys, split, shipped, o_speed))
    plain_product = scorer.prf(list(scorer.rows(ours).values()))
    results[-1].chosen.append(f"parse() bodies: F1 {plain_product[0]:.3f} (the shipped setting above: same pages)")
    results.append(fixed("trafilatura 2.3.1 (default)", scorer, theirs, split, t_speed))
    dumps["html-ours"], dumps["html-trafilatura"] = ours, theirs
    try:
        import rs_trafilatura
    except ImportError:
        print("  (rs-trafilatura not installed: not measured)")
    else:
        rs, r_speed = time_tool(html, lambda c: rs_trafilatura.extract_bytes(c).main_content)
        results.append(fixed("rs-trafilatura 0.1.1 (default)", scorer, rs, split, r_speed))
        dumps["html-rs-trafilatura"] = rs
    return results, {"dumps": dumps, "records": records, "reference": t_speed, "bodies": ours}


def run_text(args, scorer: Scorer, truth: dict, text: dict[str, bytes], split) -> tuple[list[Result], dict]:
    from streams.parsing import text as T
    from streams.parsing.charset import decode_bytes

    ours, o_speed, records = time_parse(text, truth, "text")
    decoded = {k: decode_bytes(c, is_html=False)[0] for k, c in text.items()}
    candidates = T.rule_candidates()
    shipped = T.RULES

    def predict(rules, k: str) -> str:
        return T.extract_text(decoded[k], rules).body

    keys = sorted(text)
    results = [cross_validate("newsstream text", scorer, candidates, predict, keys, split, shipped, o_speed)]
    whole = {k: v.decode("utf-8", "replace") for k, v in text.items()}
    results.append(fixed("whole page text", scorer, whole, split))
    spans = {k: T.article_span(decoded[k]) for k in keys}
    return results, {"dumps": {"text-ours": ours}, "records": records, "bodies": ours, "spans": spans}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--tools", type=Path, default=DEFAULT_TOOLS)
    ap.add_argument("--mode", choices=("html", "text", "both"), default="both")
    ap.add_argument("--dump", type=Path, default=None)
    ap.add_argument("--worst", type=int, default=0)
    ap.add_argument("--no-fields", action="store_true")
    args = ap.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):  # one core, as the target says
        try:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        except OSError:
            pass
    truth, html, text = load_set(args.data)
    scorer = Scorer(load_bodyscore(args.tools), truth)
    split = folds(sorted(truth))
    print(
        f"development set: {args.data} ({len(truth)} pages: {len(html)} HTML, {len(text)} text); {FOLDS} folds, seed {SEED}"
    )
    from importlib.metadata import version

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    tools = ", ".join(f"{name} {version(name)}" for name in ("trafilatura", "rs-trafilatura", "lxml", "htmldate"))
    print(f"Python {sys.version.split()[0]}; {tools}; load average {load:.1f} on {os.cpu_count()} cores")

    outs: dict[str, dict] = {}
    for mode, pages, runner, title in (
        ("html", html, run_html, "HTML mode"),
        ("text", text, run_text, "Plain-text mode (text/ID.txt)"),
    ):
        if args.mode not in (mode, "both"):
            continue
        results, outs[mode] = runner(args, scorer, truth, pages, split)
        print(title)
        for result in results:
            for line in result.lines(outs.get("html", {}).get("reference")):
                print(line)
        for note in results[0].chosen:
            print(f"    chosen: {note}")
        if args.worst:
            rows = scorer.rows(outs[mode]["bodies"])
            per_page = {k: 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0 for k, (tp, fp, fn) in rows.items()}
            for key in sorted(per_page, key=per_page.__getitem__)[: args.worst]:
                print(f"    {per_page[key]:.3f} {key}")
    if not args.no_fields:
        print("Fields")
        for line in fields_report(outs.get("html"), outs.get("text"), html):
            print(line)
        if "html" in outs and "text" in outs:
            for line in title_cv(outs["text"], outs["html"], split):
                print(line)
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        for out in outs.values():
            for name, preds in out["dumps"].items():
                data = {k: {"articleBody": v} for k, v in preds.items()}
                (args.dump / f"predictions-{name}.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
