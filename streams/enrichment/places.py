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

import re

from streams.enrichment.gazetteer import Gazetteer
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


#: The most words of a country's name ("Bosnia and Herzegovina", "United Arab Emirates").
_MAX_COUNTRY_WORDS = 3


def missed_countries(doc, source: str, start: int, gaz: Gazetteer) -> list[Mention]:
    """GPE mentions of the country names in ``doc`` (a Doc or a Span of one)
    that are not inside any entity the model found: the longest name of up
    to :data:`_MAX_COUNTRY_WORDS` capitalised words that
    :meth:`Gazetteer.country_code` knows ("Czech Republic", "U.S.",
    "ENGLAND"), never across a line break. ``source`` and ``start`` as for
    :func:`ner.doc_mentions` (the mentions come after the model's)."""
    tokens = list(doc)
    out: list[Mention] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.ent_type or not tok.text[:1].isupper():
            i += 1
            continue
        for n in range(min(_MAX_COUNTRY_WORDS, len(tokens) - i), 0, -1):
            span = tokens[i : i + n]
            if any(t.ent_type or "\n" in t.text for t in span) or not span[-1].text[:1].isupper():
                continue
            if any("\n" in t.whitespace_ for t in span[:-1]):
                continue
            name = "".join(t.text_with_ws for t in span).strip()
            place = gaz.place(name)
            if place is not None and (place.kind == "country" or (place.kind == "region" and place.code != "US")):
                out.append(Mention(name, "GPE", source, start + 100_000 + i, None, _line_start(tokens, i)))
                i += n
                break
        else:
            i += 1
    return out


def _line_start(tokens: list, i: int) -> bool:
    return i == 0 or "\n" in tokens[i - 1].text or "\n" in tokens[i - 1].whitespace_
