"""The places of a wire dateline: "DUBLIN 1996-08-31", "AL-AIN, United Arab
Emirates 1996-12-06", "PARIS (AFP) - ...".

Agency copy opens with the place it was filed from, in capitals. The model
reads a capitalised line poorly (it finds "Dublin" in a sentence, and
seldom "DUBLIN" alone before a date), yet a dateline is a place by the
wire's own convention: so its names are read here, as places, and the
gazetteer then gives them their usual name and country like any other.
"""

from __future__ import annotations

import re

from streams.enrichment.normalize import Mention

# The same shape as the parse stage's dateline (streams.parsing.textlines), at the
# start of the body: a place in capitals, an optional ", Region", then a date or
# an agency. Linear: the runs are bounded and separated by fixed characters.
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z'’.\-]{2,30}(?:\s[A-Z][A-Z'’.\-]{1,30}){0,3})"
    r"(?:\s?,\s*(?P<region>[A-Z][\w.'’\-]{1,30}(?:\s[A-Z][\w.'’\-]{1,30}){0,3}))?\s*,?\s*"
    r"(?:\((?:Reuters|AP|AFP|Bloomberg|dpa|UPI|IANS|PTI|Xinhua|ANSA|EFE)\)|(?:19|20)\d\d-\d\d-\d\d\b"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}\b)"
)


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
