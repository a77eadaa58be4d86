"""One article, one document: how often the HTML page and its text copy are found to be one article, and
how often two different pages are (never, we hope), on the development set; the fingerprint threshold by
10-fold cross-validation.

For every page of the set, both forms are parsed for real and given their body's simhash (what the
enrich stage stores); the rule is :func:`indexers.elasticsearch.merge.same_article` (same title key,
fingerprints within a threshold, no contrary date or language, never two canonical URLs) or the same id.

* Positives: the two forms of one page. Negatives: every pair of forms of two different pages.
* Cross-validation: pages are split in 10 folds; on the other 9 the threshold is the largest number of
  bits no negative pair of those pages is within, **ignoring titles** (so the fingerprint alone would
  not merge two articles seen in training); the held-out fold is then scored with the whole rule.

usage::

    .venv/bin/python bench/dedupe.py [--data DIR] [--folds 10]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO.parent / "shared" / "data" / "article-extraction"


def load(data: Path):
    """Return ``{page: (html candidate or None, text candidate or None)}``."""
    from indexers.elasticsearch import merge
    from indexers.elasticsearch.writer import to_document
    from streams.enrichment.fingerprint import simhash
    from streams.parsing import ParseRejected, parse
    from streams.records import EnrichedArticle, RawArticle

    truth = json.loads((data / "ground-truth.json").read_text("utf-8"))
    pages: dict[str, tuple] = {}
    for pid in sorted(truth):
        forms: list[merge.Candidate | None] = []
        for content, ctype in (
            (gzip.decompress((data / "html" / f"{pid}.html.gz").read_bytes()), "html"),
            ((data / "text" / f"{pid}.txt").read_bytes(), "text"),
        ):
            try:
                parsed = parse(RawArticle(content=content, content_type=ctype))  # type: ignore[arg-type]
            except ParseRejected:
                forms.append(None)
                continue
            record = EnrichedArticle.from_parsed(parsed, fingerprint=simhash(parsed.body))
            doc_id, source = to_document(record.to_dict(), "2026-01-01T00:00:00Z")
            forms.append(merge.Candidate.of(merge.state(source, doc_id)))
        pages[pid] = tuple(forms)
    return pages


def main() -> None:
    from indexers.elasticsearch import merge

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    if not (args.data / "ground-truth.json").is_file():
        sys.exit(f"no development set at {args.data} (--data)")
    pages = load(args.data)
    ids = sorted(pages)
    random.Random(args.seed).shuffle(ids)
    folds = [ids[i :: args.folds] for i in range(args.folds)]

    def one(a, b, bits: int) -> bool:
        return a.id == b.id or merge.same_article(a, b, max_bits=bits)

    def negatives(group_a: list[str], group_b: list[str] | None = None):
        pairs = []
        for i, p in enumerate(group_a):
            others = group_a[i + 1 :] if group_b is None else group_b
            for q in others:
                if p == q:
                    continue
                pairs += [(x, y) for x in pages[p] for y in pages[q] if x is not None and y is not None]
        return pairs

    chosen, merged, positives, false_merges, neg_count = [], 0, 0, 0, 0
    for k, test in enumerate(folds):
        train = [p for j, f in enumerate(folds) if j != k for p in f]
        closest = min((x.distance(y) or 64) for x, y in negatives(train))
        bits = closest - 1
        chosen.append(bits)
        both = [pages[p] for p in test if None not in pages[p]]
        positives += len(both)
        merged += sum(1 for a, b in both if one(a, b, bits))
        held = negatives(test) + negatives(test, train)
        neg_count += len(held)
        false_merges += sum(1 for a, b in held if one(a, b, bits))
    print(f"pages: {len(pages)}; both forms parsed: {sum(1 for f in pages.values() if None not in f)}")
    print(f"threshold per fold (bits): {chosen}")
    print(
        f"held-out: {merged} of {positives} pages' two forms found one article ({merged / positives:.1%}); "
        f"{false_merges} of {neg_count} pairs of different pages merged"
    )
    final = min(chosen)
    everything = [f for f in pages.values() if None not in f]
    same_id = sum(1 for a, b in everything if a.id == b.id)
    same_title = sum(1 for a, b in everything if set(a.title_keys) & set(b.title_keys))
    ones = sum(1 for a, b in everything if one(a, b, final))
    print(
        f"at {final} bits (the smallest fold's choice; merge.MAX_FINGERPRINT_BITS is "
        f"{merge.MAX_FINGERPRINT_BITS}), all pages: {ones} of {len(everything)} one document "
        f"({same_id} by the same id, {same_title} with the same title key); "
        f"the others' text forms were parsed with another title (or none)"
    )


if __name__ == "__main__":
    main()
