"""Places the model misses and the text names plainly: a wire dateline's
place, and a country's name the model left untagged.

Agency copy opens with the place it was filed from, in capitals ("DUBLIN
1996-08-31", "AL-AIN, United Arab Emirates 1996-12-06", "PARIS (AFP) -").
The model reads a capitalised line poorly (it finds "Dublin" in a sentence,
and seldom "DUBLIN" alone before a date), yet a dateline is a place by the
wire's own convention. And a country's name is a place wherever the model
did not read it as part of another name: in a results row ("Doug Flach
(U.S.)"), at the start of a line ("England beat Moldova 2-0"). Both are
read here as GPE mentions; the gazetteer then gives them their usual name
and country like any other, and the votes of the model's own mentions
still decide a name it labelled otherwise (:func:`normalize.vote_label`).
"""

from __future__ import annotations

import functools
import re

from streams.enrichment.gazetteer import Gazetteer, fold
from streams.enrichment.normalize import Mention

# The same shape as the parse stage's dateline (streams.parsing.textlines), at the
# start of the body: a place in capitals, an optional ", Region", then a date or
# an agency. Linear: the runs are bounded and separated by fixed characters.
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z'’.\-]{1,30}(?:\s[A-Z][A-Z'’.\-]{1,30}){0,3})"
    r"(?:\s?,\s*(?P<region>[A-Z][\w.'’\-]{1,30}(?:\s[A-Z][\w.'’\-]{1,30}){0,3}))?\s*,?\s*"
    r"(?:\((?:Reuters|AP|AFP|Bloomberg|dpa|UPI|IANS|PTI|Xinhua|ANSA|EFE)\)|(?:19|20)\d\d-\d\d-\d\d\b"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}\b)"
)


def is_dateline(text: str) -> bool:
    """Whether ``text`` opens with a wire dateline ("BONN 1996-08-30")."""
    return _DATELINE.match(text[:200]) is not None


def _name(capitals: str) -> str:
    """ "NEW YORK" -> "New York", "AL-AIN" -> "Al-Ain"; a name already in mixed case is kept."""
    return capitals.title() if capitals.isupper() else capitals


def dateline_mentions(body: str, position: int = 0) -> list[Mention]:
    """Place mentions (label GPE, source ``"body"``) of the dateline that opens
    ``body``, if it opens with one: ``"DUBLIN 1996-08-31 ..."`` -> Dublin;
    ``"LANDGRAAF, Netherlands 1996-08-31"`` -> Landgraaf, Netherlands. Reads
    at most the body's first 200 characters."""
    m = _DATELINE.match(body[:200])
    if m is None:
        return []
    names = [_name(m.group("place"))]
    if m.group("region"):
        names.append(_name(m.group("region")))
    return [Mention(name, "GPE", "body", position + k, None, True) for k, name in enumerate(names)]


#: Where the enrich stage keeps, in a Doc's ``user_data``, the text the model read.
TEXT_KEY = "newsstream_text"
#: The most words of a country's name ("Bosnia and Herzegovina", "United Arab Emirates").
_MAX_COUNTRY_WORDS = 3
#: A run of capitalised words on one line ("Czech Republic", "U.S.", "ENGLAND").
_CAPITALISED_RUN = re.compile(r"[A-ZÀ-Þ][\w.'’\-]*(?: [A-ZÀ-Þ][\w.'’\-]*)*")
_ABBREVIATION = re.compile(r"^(?:[A-Z]\.)+$")
_POSSESSIVE = re.compile(r"['’][sS]?$")


def text_and_entities(doc, label: str | None = None) -> tuple[str, bytearray]:
    """The text of ``doc`` (a Doc or a Span of one) and a mask of it: 1 for
    each character inside an entity the model found (of ``label`` only, when
    given). Read from the text, not token by token: these rules run on every
    article after the model."""
    # Doc.text makes a Token object per word (most of these rules' time): the
    # enrich stage keeps the text the model read under TEXT_KEY instead
    if hasattr(doc, "start_char"):  # a Span
        base, end, full = doc.start_char, doc.end_char, doc.doc.user_data.get(TEXT_KEY)
    else:
        base, end, full = 0, None, doc.user_data.get(TEXT_KEY)
    text = doc.text if full is None else full[base:end]
    mask = bytearray(len(text))
    for ent in doc.ents:
        if label is not None and ent.label_ != label:
            continue
        a, b = ent.start_char - base, ent.end_char - base
        mask[a:b] = b"\x01" * (b - a)
    return text, mask


def capitalised_words(text: str) -> list[list[tuple[str, int]]]:
    """Runs of capitalised words (one space apart, on one line), each word with
    its offset; a final full stop is not part of a word unless it is an
    abbreviation ("U.S."), nor a possessive ("England's")."""
    runs = []
    for m in _CAPITALISED_RUN.finditer(text):
        words, pos = [], m.start()
        for w in m.group().split(" "):
            words.append((w if _ABBREVIATION.match(w) else _POSSESSIVE.sub("", w.rstrip(".")), pos))
            pos += len(w) + 1
        runs.append(words)
    return runs


def missed_countries(doc, source: str, start: int, gaz: Gazetteer) -> list[Mention]:
    """GPE mentions of the country names in ``doc`` (a Doc or a Span of one)
    that are not inside any entity the model found: the longest name of up
    to :data:`_MAX_COUNTRY_WORDS` capitalised words that names a country or
    a nation within one ("Czech Republic", "U.S.", "ENGLAND", "Wales"; not
    a US state: "Georgia", "Washington" are people as often; not the first
    word of a longer place's name: "MEXICO CITY"), never across a line break. ``source`` and ``start`` as for :func:`ner.doc_mentions`
    (the mentions come after the model's)."""
    text, inside = text_and_entities(doc)
    starts = _first_words(gaz)
    out: list[Mention] = []
    for run in capitalised_words(text):
        i = 0
        while i < len(run):
            if fold(run[i][0]) not in starts and _acronym(run[i][0]) not in gaz.acronyms:
                i += 1
                continue
            for n in range(min(_MAX_COUNTRY_WORDS, len(run) - i), 0, -1):
                first, last = run[i], run[i + n - 1]
                end = last[1] + len(last[0])
                name = " ".join(w for w, _ in run[i : i + n])
                if any(inside[first[1] : end]) or not name:
                    continue
                place = gaz.place(name)
                if place is not None and (place.nation or n > 1):
                    if place.nation:  # not a city named for its country ("Mexico City", "Panama City")
                        initial = first[1] == 0 or text[first[1] - 1] == "\n"
                        out.append(Mention(name, "GPE", source, start + 100_000 + first[1], None, initial))
                    i += n
                    break
            else:
                i += 1
    return out


def _acronym(word: str) -> str:
    return word.replace(".", "")


@functools.lru_cache(maxsize=1)
def _first_words(gaz: Gazetteer) -> frozenset[str]:
    """The folded first words of every country's and nation's name: a run of
    capitalised words is looked up only from such a word."""
    names = list(gaz.countries) + [k for k, p in gaz.regions.items() if p.code != "US"]
    return frozenset(n.split(" ")[0] for n in names)
