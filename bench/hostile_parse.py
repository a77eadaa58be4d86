"""Parse time and memory on hostile input, against ordinary pages in the same run (issue 20).

Each hostile family of ``tests/parsing/hostile.py`` (runs of one character,
deep nesting, one huge line, invalid UTF-8, surrogates, tag soup that
libxml2's XPath unions merge slowly ...), at ``--size`` bytes, and a 6 MB
article page and an 8 MB one-line page, are parsed in a fresh interpreter
each (so the peak resident memory is that parse's): the time, the time per
KB, the peak RSS and the outcome are printed. The baseline, measured in the
same run, is the development set's HTML pages parsed one after the other
(time per KB of HTML); the last column is each family's time per KB over
the baseline's. ``--repeat`` runs everything N times and prints the minimum,
median and maximum (the machines are shared: read the spread).

usage::

    .venv/bin/python bench/hostile_parse.py [--size BYTES] [--repeat N] [--only NAME,...] [--data DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_DATA = REPO.parent / "shared" / "data" / "article-extraction"

_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from streams.parsing import ParseRejected, parse
from streams.records import RawArticle
from tests.parsing.hostile import SENTENCE, families
name, size = sys.argv[2], int(sys.argv[3])
if name == "6 MB article page":
    para = "<p>" + SENTENCE * 14 + "<a href=x>a link</a> and more words.</p>"
    page = "<html><head><title>Big</title></head><body><article>" + para * 6000 + "</article></body></html>"
    content, ctype = page, "html"
elif name == "8 MB one line":
    content, ctype = b"word " * (8 * 1024 * 1024 // 5), "text"
else:
    content, ctype = families(size)[name]
data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
import streams.parsing.html, trafilatura  # imports are not the parse's time
started = time.perf_counter()
try:
    parsed = parse(RawArticle(content=content, content_type=ctype))
    outcome = f"{parsed.word_count} words"
except ParseRejected as exc:
    outcome = exc.reason
took = time.perf_counter() - started
peak_kib = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])  # not ru_maxrss
print(json.dumps([len(data), took, peak_kib // 1024, outcome]))
"""


def baseline(data: Path, limit: int = 60) -> float:
    """Seconds per KB parsing the development set's HTML pages (the first ``limit``)."""
    from streams.parsing import parse
    from streams.records import RawArticle

    pages = sorted((data / "html").glob("*.html.gz"))[:limit]
    if not pages:
        raise SystemExit(f"no development pages in {data / 'html'}")
    contents = [gzip.decompress(p.read_bytes()) for p in pages]
    parse(RawArticle(content=contents[0], content_type="html"))  # imports
    started = time.perf_counter()
    for content in contents:
        parse(RawArticle(content=content, content_type="html"))
    return (time.perf_counter() - started) / (sum(map(len, contents)) / 1024)


def run(name: str, size: int) -> tuple[int, float, int, str]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(REPO), name, str(size)], capture_output=True, text=True, timeout=1800
    )
    if done.returncode != 0:
        return 0, float("nan"), 0, f"CRASH {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
    size_b, took, rss, outcome = json.loads(done.stdout.strip().splitlines()[-1])
    return size_b, took, rss, outcome


def main() -> None:
    from tests.parsing.hostile import families

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=1024 * 1024, help="bytes of each family (default 1 MiB)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated family names")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    names = [*families(1), "6 MB article page", "8 MB one line"]
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine may be shared)")
    base = [baseline(args.data) for _ in range(args.repeat)]
    base_med = statistics.median(base)
    runs_ms = ", ".join(f"{1000 * b:.2f}" for b in base)
    print(f"baseline: development-set HTML pages, {1000 * base_med:.2f} ms/KB (runs: {runs_ms})")
    print(f"{'family':32} {'size':>9} {'s (min/med/max)':>20} {'ms/KB':>7} {'peak MiB':>9} {'x base':>7}  outcome")
    for name in names:
        runs = [run(name, args.size) for _ in range(args.repeat)]
        size_b = runs[0][0]
        times = sorted(r[1] for r in runs)
        med = statistics.median(times)
        per_kb = med / (size_b / 1024) if size_b else float("nan")
        spread = f"{times[0]:.2f}/{med:.2f}/{times[-1]:.2f}"
        print(
            f"{name:32} {size_b / 1024:>8.0f}K {spread:>20} {1000 * per_kb:>7.2f} {max(r[2] for r in runs):>9} "
            f"{per_kb / base_med:>7.1f}  {runs[0][3]}",
            flush=True,
        )


if __name__ == "__main__":
    main()
