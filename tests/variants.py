"""Many distinct, short, real-text articles from the bundled examples, for tests that need
a thousand articles flowing (the fault tests): what a clean clone (CI) has.

Each variant is a title and four paragraphs, every one a sentence of a real
article in ``examples/articles`` (the RFI sample's sentences: a real
article's words, entities and places), in a combination no other variant
has, published as a JSON envelope with a URL of its own. So every variant is
a distinct article: distinct body (a distinct combination of sentences),
distinct URL, distinct id, distinct raw key. Short on purpose: enrichment
(spaCy NER) is the slow stage, and these are about 100 words.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import orjson

from streams.publish import article_key
from streams.records import RawArticle

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "articles"

#: Paragraphs of the examples that are page furniture, not sentences of the article.
_FURNITURE = re.compile(r"^(advertisement|read more|newsletter|i subscribe|follow|receive all|text by|\d+ min)", re.I)


def sentences() -> list[str]:
    """The article sentences of ``examples/articles/*.txt``: paragraphs of at least eight words, not furniture."""
    out: list[str] = []
    for path in sorted(EXAMPLES.glob("*.txt")):
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            text = " ".join(para.split())
            if len(text.split()) >= 8 and not _FURNITURE.match(text) and text not in out:
                out.append(text)
    return out


def variants(n: int, tag: str, per_article: int = 4) -> list[tuple[bytes, bytes]]:
    """Return ``n`` distinct articles as ``(key, value)`` messages for the raw topic.

    ``value`` is a JSON envelope ``{"url", "text", "source"}``, ``key`` what
    ``newsstream publish`` keys it by. ``tag`` goes into every URL, so two
    calls with two tags never share an article.

    Raises:
        ValueError: the examples hold fewer than ``n`` combinations.
    """
    pool = sentences()
    combos = itertools.combinations(range(len(pool)), per_article + 1)
    out: list[tuple[bytes, bytes]] = []
    for i, combo in enumerate(itertools.islice(combos, n)):
        title, *body = (pool[j] for j in combo)
        url = f"https://faults.newsstream.invalid/{tag}/{i}"
        text = "\n\n".join([title.rstrip(".") + f" ({i})", *body]) + "\n"
        raw = RawArticle(content=text, content_type="text", url=url, source="variants")
        value = orjson.dumps({"url": url, "text": text, "content_type": "text", "source": "variants"})
        out.append((article_key(raw), value))
    if len(out) < n:
        raise ValueError(f"the examples give {len(out)} combinations of {per_article + 1} sentences, not {n}")
    return out
