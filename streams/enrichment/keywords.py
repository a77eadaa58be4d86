"""Key phrases of a body, statistically, and the merged tag list.

No parser: the enrich stage runs only the entity recogniser (about half the
model's time per word), so the phrases come from the tokens and entities of
that doc and two word lists (rules ours):

* **candidates**: the 1- to 4-word n-grams of the runs of content words
  between delimiters (the runs as in RAKE, Rose et al. 2010, "Automatic
  keyword extraction from individual documents"), ending in a word that
  can be a noun. Delimiters: stop words, punctuation (a hyphen inside a word
  joins: "large-scale"), numbers, line breaks, titles
  (:data:`normalize.TITLE_WORDS`), names (PERSON, ORG, GPE, LOC, FAC and
  values such as dates: entities already), capitalised words inside a
  sentence (names the model missed; acronyms such as "SUVs" stay), and adverbs and verb forms the
  model's lemmatizer tables know as nothing else ("firmly", "affirmed").
  Demonyms (NORP) stay inside a phrase ("Russian aggression") but never
  end one.
* **genericness**: a word's frequency in general English (wordfreq's
  Zipf scale: log10 of occurrences per billion words). A one-word phrase
  must be rarer than :data:`GENERIC_ZIPF` ("people" 6.3, "time" 6.3,
  "country" 5.5, "region" 5.0 are not key phrases; "asylum" 4.0 and
  "homeopathy" 2.9 are) and occur at least twice.
* **key**: the words lower-cased, the last one singular (the lemmatizer's
  noun rules and exceptions: "carbon budgets" = "carbon budget"); shown as
  first seen, lower case except words with capitals inside or demonyms.
* **score**: occurrences x (1 + 0.5 per extra word) + 0.5 when first seen
  in the first fifth of the body + 0.1 x the mean specificity of its words
  (7 - Zipf, so of two phrases seen as often the rarer wins); a phrase
  contained in a better-ranked one (or containing it) is skipped.

:data:`GENERIC_ZIPF` is not cross-validated: no annotated key phrases exist
for it; the tests pin its effect on texts of our own.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
from spacy.attrs import ENT_TYPE, IDX, IS_ALPHA, IS_STOP, ORTH, SPACY
from spacy.lang.en.stop_words import STOP_WORDS

from streams.enrichment.frequency import zipf
from streams.enrichment.names import TITLE_WORDS

_VALUE_ENTS = frozenset({"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"})
_NAME_ENTS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"})
_MAX_WORDS = 4
#: Zipf frequency at or above which a word is generic (see the module docstring).
GENERIC_ZIPF = 4.5


class WordClasses:
    """What the model's lemmatizer tables say of a word: noun lemmas, and
    whether a form is only an adverb or a verb. Without tables (a pipeline
    without a rule lemmatizer) nothing is a delimiter and plurals stay."""

    def __init__(self, tables: dict | None) -> None:
        self.ok = tables is not None
        if tables is None:
            return
        index, exc, rules = tables["lemma_index"], tables["lemma_exc"], tables["lemma_rules"]
        self.nouns = set(index.get("noun", ()))
        self.adjs = set(index.get("adj", ()))
        self.verbs = set(index.get("verb", ()))
        self.advs = set(index.get("adv", ()))
        self.not_nouns = (self.adjs | self.verbs) - self.nouns
        self.noun_exc = dict(exc.get("noun", {}))
        self.verb_exc = dict(exc.get("verb", {}))
        self.noun_rules = [tuple(r) for r in rules.get("noun", ())]
        self.verb_rules = [tuple(r) for r in rules.get("verb", ())]

    # one WordClasses per model, kept for the process (_CLASSES): the caches live as long
    @functools.lru_cache(maxsize=1 << 15)  # noqa: B019
    def noun_lemma(self, word: str) -> str:
        if not self.ok or word in self.nouns:
            return word
        if word in self.noun_exc:
            return self.noun_exc[word][0]
        for old, new in self.noun_rules:
            if word.endswith(old) and word[: len(word) - len(old)] + new in self.nouns:
                return word[: len(word) - len(old)] + new
        return word

    # one WordClasses per model, kept for the process (_CLASSES): the caches live as long
    @functools.lru_cache(maxsize=1 << 15)  # noqa: B019
    def delimiter(self, word: str) -> bool:
        """True for an adverb or an inflected verb form that is nothing else."""
        if not self.ok or word in self.nouns or word in self.adjs:
            return False
        if word in self.advs:
            return True
        if word.endswith(("ed", "ing")) or word in self.verb_exc:
            lemmas = list(self.verb_exc.get(word, ()))
            lemmas += [word[: len(word) - len(o)] + n for o, n in self.verb_rules if word.endswith(o)]
            return any(lem in self.verbs for lem in lemmas) and self.noun_lemma(word) == word
        return False

    def __hash__(self) -> int:
        return id(self)


def _words(doc, classes: WordClasses) -> list[list[tuple[str, int, bool]]]:
    """Runs of ``(word, first character offset, is_norp)`` between delimiters.

    Reads the doc's attribute arrays (``Doc.to_array``), not a Token object
    per word: a third of the time of this function on news bodies."""
    n = len(doc)
    if not n:
        return []
    if hasattr(doc, "doc") and doc.doc is not doc:  # a Span: its rows of the doc's arrays
        arr = doc.doc.to_array([ORTH, IS_ALPHA, IS_STOP, ENT_TYPE, SPACY, IDX])[doc.start : doc.end]
    else:
        arr = doc.to_array([ORTH, IS_ALPHA, IS_STOP, ENT_TYPE, SPACY, IDX])
    strings = doc.vocab.strings
    name_ents = np.array(sorted({strings.add(x) for x in _NAME_ENTS | _VALUE_ENTS}), dtype=arr.dtype)
    norp = strings.add("NORP")
    hyphen = strings.add("-")
    # candidates: alphabetic, not a stop word, not inside a name or a value (numpy, all tokens at once)
    joinable = (arr[:, 1] == 1) & ~np.isin(arr[:, 3], name_ents)  # may follow a hyphen inside a word
    cand = joinable & (arr[:, 2] == 0)
    orths = arr[:, 0].tolist()
    is_cand = cand.tolist()
    is_joinable = joinable.tolist()
    ents = arr[:, 3].tolist()
    spaced = arr[:, 4].tolist()
    idxs = arr[:, 5].tolist()
    runs: list[list] = [[]]
    i = 0
    while i < n:
        if not is_cand[i]:
            if runs[-1]:
                runs.append([])
            i += 1
            continue
        text = strings[orths[i]]
        low = text.lower()
        ent = ents[i]
        word_ok = low not in STOP_WORDS and low not in TITLE_WORDS and not classes.delimiter(low)
        if word_ok and text[0].isupper() and ent != norp and not _acronym(text):
            prev = strings[orths[i - 1]] if i else "\n"
            if not (prev in _OPENERS or "\n" in prev):
                word_ok = False  # a capitalised word inside a sentence: a name the model missed
        if not word_ok:
            if runs[-1]:
                runs.append([])
            i += 1
            continue
        # a hyphen with no space around it joins: "large-scale"
        word = text
        j = i
        while j + 2 < n and not spaced[j] and orths[j + 1] == hyphen and not spaced[j + 1] and is_joinable[j + 2]:
            word += "-" + strings[orths[j + 2]]
            j += 2
        runs[-1].append((word, idxs[i], ent == norp))
        i = j + 1
    return [r for r in runs if r]


_OPENERS = frozenset('.!?:;"“‘(•–—-')


def _acronym(text: str) -> bool:
    """ "SUV", "SUVs", "BPA": an upper-case abbreviation of common nouns is a phrase word."""
    letters = text[:-1] if text.endswith("s") else text
    return 2 <= len(letters) <= 5 and letters.isupper()


def _display(word: str, is_norp: bool) -> str:
    return word if is_norp or not word[1:].islower() else word.lower()


def _count_run(run: list, classes: WordClasses, stats: dict) -> None:
    """Count the n-grams of one run into ``stats`` (key -> [count, display,
    first_char, n_words, specificity]); per-word facts are computed once."""
    lows = [w.lower() for w, _, _ in run]
    norps = [norp for _, _, norp in run]
    zs = [zipf(w) for w in lows]
    # whether a phrase may end on word k: not a demonym, and a noun (or unknown to the tables)
    lemmas = [classes.noun_lemma(w) for w in lows]
    can_end = [
        not norps[k] and not (classes.ok and lemmas[k] not in classes.nouns and lows[k] in classes.not_nouns)
        for k in range(len(run))
    ]
    for start in range(len(run)):
        for end in range(start + 1, min(start + _MAX_WORDS, len(run)) + 1):
            last = end - 1
            if not can_end[last]:
                continue
            n = end - start
            if n == 1 and (len(lows[last]) < 3 or lows[last].endswith("ed") or zs[last] >= GENERIC_ZIPF):
                # too short; "defeated", "accused" (WordNet nouns, news verbs); a generic word
                continue
            key = (*lows[start:last], lemmas[last])
            entry = stats.get(key)
            if entry is None:
                display = " ".join(_display(run[k][0], norps[k]) for k in range(start, end))
                spec = sum(7.0 - z for z in zs[start:end]) / n
                stats[key] = [1, display, run[start][1], n, spec]
            else:
                entry[0] += 1


def key_phrases(doc, limit: int = 10, tables: dict | None = None) -> list[str]:
    """Up to ``limit`` key phrases of a spaCy ``doc`` or Span (tokens and
    entities; no parser needed), best first.

    ``tables`` are the model's lemmatizer tables
    (:func:`streams.enrichment.ner.word_tables`); without them plurals are
    not folded and no word is read as a verb or adverb. Returns phrases in
    lower case except demonyms and words with inner capitals, e.g.
    ``["territorial integrity", "Russian aggression", ...]``.
    """
    classes = _classes(id(tables), tables)
    # the text's length (and the offsets of a Span's words) without Doc.text, which joins every token
    first_char = doc[0].idx if len(doc) else 0
    n_chars = max(doc[-1].idx + len(doc[-1].text_with_ws) - first_char, 1) if len(doc) else 1
    stats: dict[tuple[str, ...], list] = {}  # key -> [count, display, first_char, n_words, specificity]
    for run in _words(doc, classes):
        _count_run(run, classes, stats)
    scored = []
    for count, display, first, n_words, spec in stats.values():
        if n_words == 1 and count < 2:
            continue
        score = count * (1 + 0.5 * (n_words - 1)) + (0.5 if first - first_char < n_chars / 5 else 0.0) + 0.1 * spec
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


_CLASSES: dict[int, WordClasses] = {}


def _classes(key: int, tables: dict | None) -> WordClasses:
    got = _CLASSES.get(key)
    if got is None:
        got = _CLASSES[key] = WordClasses(tables)
    return got


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
