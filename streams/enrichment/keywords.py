"""Key phrases of a body from its noun chunks, and the merged tag list.

No extra model: the phrases are the noun chunks spaCy's parser already found
(``doc.noun_chunks``), trimmed and ranked by a small frequency score. Rules
(ours):

* trim determiners, pronouns, numbers, punctuation, stop words, titles
  ("Secretary", :data:`normalize.TITLE_WORDS`) and names
  (PERSON, ORG, GPE, LOC, FAC: they are entities already) at both ends
  ("the 5 former Soviet republics" -> "former Soviet republics",
  "Moscow's aggressiveness" -> "aggressiveness");
* skip a chunk whose every remaining word is inside a named entity (those are
  in ``entities`` already), holding a number or date, headed by a pronoun,
  longer than 4 words, broken by a line break or punctuation (lists, not
  phrases), a lone proper noun (a name the model missed), or shorter than
  3 letters;
* key = the lemmas, lower case; shown as the first form seen, lower case
  except proper nouns, entity words ("Russian aggression") and words with
  inner capitals ("SUVs");
* score = occurrences x (1 + 0.5 per extra word) + 0.5 if first seen in the
  first fifth of the body; a one-word phrase seen once is not a key phrase;
* a phrase contained in a better-ranked one (or containing it) is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.enrichment.normalize import TITLE_WORDS

_EDGE_POS = frozenset({"DET", "PRON", "NUM", "PUNCT", "CCONJ", "ADP", "PART", "SYM", "SPACE", "X"})
_VALUE_ENTS = frozenset({"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"})
# Names at the edge of a chunk are trimmed ("Moscow's aggressiveness" ->
# "aggressiveness"): they are entities already. Demonyms (NORP) stay.
_MAX_WORDS = 4
_NAME_ENTS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC"})


def _edge(tok) -> bool:
    return tok.pos_ in _EDGE_POS or tok.is_stop or tok.ent_type_ in _NAME_ENTS or tok.lower_ in TITLE_WORDS


def _trim(chunk) -> list:
    toks = list(chunk)
    while toks and _edge(toks[0]):
        toks.pop(0)
    while toks and _edge(toks[-1]):
        toks.pop()
    return toks


def key_phrases(doc, limit: int = 10) -> list[str]:
    """Up to ``limit`` key phrases of a parsed spaCy ``doc``, best first.

    Needs a pipeline with a dependency parser (for ``noun_chunks``); raises
    ``ValueError`` (spaCy's E029) without one. Returns lower-case phrases
    (proper nouns keep their case), e.g. ``["territorial integrity", ...]``.
    """
    # len(doc.text) without building it (Doc.text joins every token's text)
    n_chars = max(doc[-1].idx + len(doc[-1].text_with_ws), 1) if len(doc) else 1
    stats: dict[str, list] = {}  # key -> [count, display, first_char, n_words]
    for chunk in doc.noun_chunks:
        if chunk.root.pos_ == "PRON":
            continue
        toks = _trim(chunk)
        if not toks or len(toks) > _MAX_WORDS:
            continue
        if any(t.is_space or "\n" in t.whitespace_ or (t.is_punct and t.text not in "-'’") for t in toks[:-1]):
            continue
        if all(t.ent_type_ and t.ent_type_ not in _VALUE_ENTS for t in toks):
            continue
        if len(toks) == 1 and toks[0].pos_ == "PROPN":  # a name the model missed, not a phrase
            continue
        if any(t.ent_type_ in _VALUE_ENTS for t in toks):
            continue
        key = " ".join(t.lemma_.lower() for t in toks)
        if sum(ch.isalpha() for ch in key) < 3:
            continue
        entry = stats.get(key)
        if entry is None:
            display = "".join(
                (t.text if (t.pos_ == "PROPN" or t.ent_type_ or not t.text[1:].islower()) else t.text.lower())
                + t.whitespace_
                for t in toks
            ).strip()
            stats[key] = [1, display, toks[0].idx, len(toks)]
        else:
            entry[0] += 1
    scored = []
    for count, display, first, n_words in stats.values():
        if n_words == 1 and count < 2:
            continue
        score = count * (1 + 0.5 * (n_words - 1)) + (0.5 if first < n_chars / 5 else 0.0)
        scored.append((-score, first, display))
    scored.sort()
    picked: list[str] = []
    for _, _, display in scored:
        low = f" {display.lower()} "
        if any(f" {p.lower()} " in low or low in f" {p.lower()} " for p in picked):
            continue
        picked.append(display)
        if len(picked) >= limit:
            break
    return picked


def merge_tags(*lists: Iterable[str]) -> list[str]:
    """Concatenate tag lists, dropping empties and case-insensitive duplicates.

    The first spelling seen wins: ``merge_tags(["United States"], ["united
    states", "Russia"])`` -> ``["United States", "Russia"]``. Whitespace is
    collapsed before comparing.
    """
    seen: set[str] = set()
    out: list[str] = []
    for tags in lists:
        for tag in tags:
            tag = " ".join((tag or "").split())
            key = tag.casefold()
            if tag and key not in seen:
                seen.add(key)
                out.append(tag)
    return out
