"""Fields of the article-extraction benchmark (``bench/extraction.py``): titles,
junk titles, missing dates, and the 5-fold cross-validation of the text mode's
headline signals (agreement with the HTML mode's title of the same page)."""

from __future__ import annotations

import re
import statistics


def title_cv(text_out: dict, html_out: dict, split: list[list[str]]) -> list[str]:
    """5-fold CV of the text mode's headline signals (``texttitle.TitleRules``):
    agreement with the HTML mode's title of the same page, the weights chosen
    on four folds and scored on the fifth (the article's span is the shipped
    rules' on every page)."""
    from streams.parsing import texttitle as TT

    hrec, spans = html_out["records"], text_out["spans"]
    keys = [k for k in spans if k in hrec]
    candidates = TT.title_candidates()
    agree: dict[tuple[int, str], bool] = {}
    for c, rules in enumerate(candidates):
        for k in keys:
            lines, _values, start, end = spans[k]
            title = TT.find_title(lines, start, end, rules) if start < end else None
            publisher = hrec[k].publisher
            agree[c, k] = _norm_title(title, publisher) == _norm_title(hrec[k].title, publisher)

    def share(c: int, pages: list[str]) -> float:
        return sum(agree[c, k] for k in pages) / len(pages)

    fold_share, chosen = [], []
    for i, fold in enumerate(split):
        fold = [k for k in fold if k in spans]
        train = [k for j, other in enumerate(split) if j != i for k in other if k in spans]
        best = max(range(len(candidates)), key=lambda c: (share(c, train), -c))
        fold_share.append(share(best, fold))
        chosen.append(best)
    everywhere = max(range(len(candidates)), key=lambda c: (share(c, keys), -c))
    return [
        f"  text-mode titles, CV: {statistics.mean(fold_share):.3f} equal to the HTML mode's "
        f"(folds {min(fold_share):.3f}-{max(fold_share):.3f}, sd {statistics.pstdev(fold_share):.3f}; "
        f"{len(candidates)} settings; shipped on all pages {share(0, keys):.3f})",
        f"    chosen: {', '.join(str(candidates[c]) for c in sorted(set(chosen)))}"
        f"{'' if everywhere == 0 else f'; on all pages: {candidates[everywhere]}'}",
    ]


def _norm_title(title: str | None, site: str | None = None) -> str:
    from streams.parsing.metadata import clean_title

    t = clean_title(title, site) or ""
    return " ".join(re.findall(r"\w+", t.lower()))


def fields_report(html_out: dict | None, text_out: dict | None, html: dict[str, bytes]) -> list[str]:
    """Titles (text vs HTML, HTML vs og:title/<h1>, and with <title>), junk titles, missing dates."""
    from trafilatura.utils import load_html

    from streams.parsing.charset import decode_bytes

    out = []
    junk = re.compile(r"navigation|menu|<img|^image \d+ of \d+|news corp company|skip to|cookie", re.IGNORECASE)
    hrec = html_out["records"] if html_out else {}
    trec = text_out["records"] if text_out else {}
    if hrec:
        right = with_title = 0
        for k, rec in hrec.items():
            tree = load_html(decode_bytes(html[k], is_html=True)[0])
            if tree is None:
                continue
            refs = tree.xpath('//meta[@property="og:title"]/@content') + [h.text_content() for h in tree.iter("h1")]
            mine = _norm_title(rec.title, rec.publisher)
            right += mine in {_norm_title(r, rec.publisher) for r in refs}
            with_title += mine in {_norm_title(r, rec.publisher) for r in [*refs, tree.findtext(".//title")]}
        out.append(f"  HTML titles equal to og:title or an <h1>: {right}/{len(hrec)} (or the <title>: {with_title})")
    if hrec and trec:
        same = sum(
            1
            for k in trec
            if k in hrec
            and _norm_title(trec[k].title, hrec[k].publisher) == _norm_title(hrec[k].title, hrec[k].publisher)
        )
        out.append(f"  text-mode titles equal to the HTML mode's: {same}/{len(trec)}")
    for name, recs in (("HTML", hrec), ("text", trec)):
        if not recs:
            continue
        junk_n = sum(1 for r in recs.values() if r.title and junk.search(r.title))
        none = sum(1 for r in recs.values() if not r.title)
        nodate = sum(1 for r in recs.values() if not r.published_at)
        out.append(f"  {name} mode: junk titles {junk_n}, no title {none}, no date {nodate} (of {len(recs)})")
    return out
