"""Folding the short forms of a name into its full form within one article:
"Blinken" -> "Antony Blinken", "Zelenskyy" -> "Volodymyr Zelenskiy"
(:func:`spelling_key` makes transliteration variants one key), "UN" ->
"United Nations" (:func:`fold_acronyms`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from streams.enrichment.gazetteer import fold
from streams.enrichment.names import CONNECTORS, PLACE_LABELS

if TYPE_CHECKING:
    from streams.enrichment.normalize import Group


def _words(name: str) -> list[str]:
    return fold(name).split(" ")


_VOWELS = re.compile(r"[aeiouy]+")
#: Labels that, on a short form, say it is something the article names on its own.
_OTHER_THAN_PERSON = frozenset({"ORG", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"})


def spelling_key(word: str) -> str:
    """A surname's key across transliterations: folded, "h" after a consonant
    and vowels (with "y") dropped, doubled letters single:
    "Zelensky", "Zelenskyy", "Zelenskiy" -> "zlnsk"; "Gaddafi", "Gadhafi" -> "gdf".
    Only names of 5 or more letters whose key has 3 or more letters get one
    (shorter keys collide: "" otherwise)."""
    w = fold(word).replace("-", "")
    if len(w) < 5 or not w.isalpha():
        return ""
    w = re.sub(r"(?<=[^aeiouy])h", "", w)
    w = _VOWELS.sub("", w)
    w = re.sub(r"(.)\1+", r"\1", w)
    return w if len(w) >= 3 else ""


def _variant_words(words: list[str]) -> tuple[str, ...]:
    return (*words[:-1], "~" + spelling_key(words[-1])) if spelling_key(words[-1]) else tuple(words)


def fold_short_forms(groups: dict[str, Group], person_share: float = 0.0) -> dict[str, str]:
    """Fold short forms and spellings of persons' names into one, in place.

    A group whose name is the last word(s) of exactly one multi-word PERSON
    ("Blinken" -> "Antony Blinken", "Genté" -> "Régis Genté") is merged into
    it when at least ``person_share`` of its votes say PERSON, unless it is a
    country or demonym, or a place the gazetteer knows that the votes call a
    place. When several persons end so, the short form goes to the one with
    more mentions than all the others together ("Cook": "Tim Cook" x5,
    "Hosting Cook" x1); otherwise it is ambiguous ("Biden" with "Joe Biden"
    and "Jill Biden" once each) and left alone.

    Spellings: the last word is compared by :func:`spelling_key`, so
    "Zelenskyy" folds into "Volodymyr Zelenskiy", and two persons whose
    names differ only so ("Volodymyr Zelensky", "Volodymyr Zelenskiy") are
    one (the one with more mentions absorbs the other).
    Needs :attr:`Group.label` set. Returns ``{folded key: key it went to}``.
    """
    folded: dict[str, str] = {}
    # the same person spelled two ways, both full names: the one mentioned more absorbs the other
    persons = [g for g in groups.values() if g.label == "PERSON" and " " in g.display]
    by_variant: dict[tuple[str, ...], Group] = {}
    for g in sorted(persons, key=lambda g: (-g.mentions, g.first)):
        variant = _variant_words(_words(g.display))
        if variant in by_variant and g.key in groups:
            absorber = by_variant[variant]
            absorber.merge(g)
            del groups[g.key]
            folded[g.key] = absorber.key
        else:
            by_variant.setdefault(variant, g)
    index: dict[tuple[str, ...], set[str]] = {}
    for g in groups.values():
        # a headline's title-case guess ("House Hitler") takes no short form from the body
        if g.label == "PERSON" and g.sources - {"title"}:
            words = _words(g.display)
            for i in range(1, len(words)):
                index.setdefault(tuple(words[i:]), set()).add(g.key)
                index.setdefault(_variant_words(words[i:]), set()).add(g.key)
    for key, g in list(groups.items()):
        if g.demonym is not None or key.startswith("country:"):
            continue
        words = _words(g.display)
        # an exact short form first; another spelling only when there is none
        targets = (index.get(tuple(words), set()) - {key}) or (index.get(_variant_words(words), set()) - {key})
        targets = {k for k in targets if k in groups}  # a candidate may itself have been folded already
        if not targets:
            continue
        if len(targets) > 1:
            ranked = sorted(targets, key=lambda k: -groups[k].mentions)
            top = groups[ranked[0]].mentions
            if top <= sum(groups[k].mentions for k in ranked[1:]):
                continue
            targets = {ranked[0]}
        total = sum(g.votes.values()) or 1.0
        other = sum(w for lab, w in g.votes.items() if lab in _OTHER_THAN_PERSON)
        if g.place is not None:
            other += sum(w for lab, w in g.votes.items() if lab in PLACE_LABELS)
        if other / total > 1.0 - person_share:
            continue
        if g.place is not None:
            place_votes = sum(w for lab, w in g.votes.items() if lab in PLACE_LABELS)
            if place_votes > g.votes.get("PERSON", 0.0):
                continue
        target = next(iter(targets))
        if target in folded or target not in groups:
            continue
        groups[target].merge(g)
        del groups[key]
        folded[key] = target
    return folded


def _initials(name: str) -> str:
    return "".join(w[0] for w in name.split(" ") if w and w[0].isupper() and w.casefold() not in CONNECTORS)


def fold_acronyms(groups: dict[str, Group]) -> dict[str, str]:
    """Fold an upper-case acronym into the one ORG whose initials it is, in place.

    "UN" -> "United Nations", "EU" -> "European Union" (both in the article);
    skipped when several organisations share the initials or the acronym is a
    country ("US"). Needs :attr:`Group.label` set. Returns ``{acronym key: key}``.
    """
    by_initials: dict[str, set[str]] = {}
    for g in groups.values():
        if g.label == "ORG" and " " in g.display:
            ini = _initials(g.display)
            if len(ini) >= 2:
                by_initials.setdefault(ini, set()).add(g.key)
    folded: dict[str, str] = {}
    for key, g in list(groups.items()):
        name = g.display.replace(".", "")
        if not (2 <= len(name) <= 6 and name.isalpha() and name.isupper()):
            continue
        if key.startswith("country:") or g.label not in ("ORG", "GPE", "NORP", "PERSON"):
            continue
        targets = by_initials.get(name, set()) - {key}
        if len(targets) == 1:
            target = next(iter(targets))
            groups[target].merge(g)
            del groups[key]
            folded[key] = target
    return folded
