"""What the words around an entity say about it: context cues that overrule
the model's label ("on Twitter", "Liverpool 2-0"), names the model split
("Braunau am Inn", "Elizabeth I"), and bylines or credits written in the text.

Pure functions of a spaCy Doc and an entity span (see :func:`ner.doc_mentions`).
"""

from __future__ import annotations

import re

from streams.enrichment.gazetteer import Gazetteer

#: Words before a name that make a "person" an organisation: "on Twitter", "at SpaceX".
_ORG_BEFORE = frozenset({"on", "at", "via"})
#: Words after a "person" or a place that make it a company or a platform:
#: "Twitter users", "Alibaba shares", "an Alibaba spokesperson", "the Emirates fleet".
_ORG_AFTER = frozenset(
    """users user account accounts handle feed app platform website shares stock stocks shareholders
    investors spokesperson spokesman spokeswoman ceo executives executive employees staffers founder
    co-founder subsidiary headquarters fleet""".split()
)
#: Words next to a place that make it a team: "Liverpool beat", "against Liverpool".
_RESULT_WORDS = frozenset(
    """beat beats defeated defeat drew draw lost loses won wins edged thrashed routed
    against vs vs. v v. versus""".split()
)
_SCORE_TOKEN = re.compile(r"^\d{1,3}(?:[-–:]\d{1,3})?$")
_CREDIT_WORDS = frozenset({"image", "photo", "photograph", "picture", "credit", "source", "by"})
_LINE_OPENERS = frozenset('.!?:;"“‘(•–—-')
_NAME_PREFIX = re.compile(r"^(?:Mc|Mac|O'|O’|De|Di|Da|Du|La|Le|Van|Von|Fitz|St)[A-Z]")


def _starts_line(doc, i: int) -> bool:
    return i == 0 or "\n" in doc[i - 1].text or "\n" in doc[i - 1].whitespace_


def initial(doc, i: int) -> bool:
    return _starts_line(doc, i) or doc[i - 1].text in _LINE_OPENERS


def _inner_capital(name: str) -> bool:
    """ "SpaceX", "WeWork", "iPhone": a capital inside one word, not a name
    prefix ("McDonald", "DeSantis", "O'Brien")."""
    if " " in name or not name.isalpha() or name.isupper():
        return False
    return any(ch.isupper() for ch in name[1:]) and not _NAME_PREFIX.match(name)


#: A person's initial and surname: "P. Simmons", "M. McCague", "T.O'Gorman" (one initial: "U.S. Steel" is none).
INITIAL_SURNAME = r"[A-Z]\.\s?[A-Z][A-Za-z'’\-]*[a-z]"
INITIAL_NAME = re.compile(f"^{INITIAL_SURNAME}$")


def context_cue(doc, ent, label: str, name: str, gaz: Gazetteer) -> str | None:
    """``"person"``, ``"org"``, ``"team"`` or None: what the name and the words around ``ent`` say (see
    :class:`normalize.Rules`). Only a one-word "person" is a platform after "on"
    ("on Twitter", not "decided on Jack Kemp"), or a team when it names a place
    ("Liverpool beat"; not "Stefan Edberg (Sweden) beat", "C. Lewis 80")."""
    if label != "PERSON" and INITIAL_NAME.match(name):
        return "person"  # "H. Morris", "M. McCague": an initial and a surname
    before = doc[ent.start - 1].lower_ if ent.start > 0 else ""
    after = doc[ent.end].lower_ if ent.end < len(doc) else ""
    if label == "PERSON" and ((before in _ORG_BEFORE and " " not in name) or _inner_capital(name)):
        return "org"
    if label in ("PERSON", "GPE") and after in _ORG_AFTER:
        return "org"
    if (label in ("GPE", "LOC") or (label == "PERSON" and " " not in name and gaz.place(name) is not None)) and (
        after in _RESULT_WORDS
        or before in _RESULT_WORDS
        or _SCORE_TOKEN.match(after)
        or (ent.start > 0 and _SCORE_TOKEN.match(doc[ent.start - 1].text))
    ):
        return "team"
    return None


#: Lower-case words inside a place's name: "Braunau am Inn", "Newcastle upon Tyne".
_NAME_PARTICLES = frozenset({"am", "im", "an", "der", "upon", "sur", "sul"})


def joined(doc, ent, nxt) -> bool:
    """Whether ``ent`` and the next entity are one name split by a particle."""
    if not 1 <= nxt.start - ent.end <= 2:
        return False
    return all(t.text in _NAME_PARTICLES and t.whitespace_ for t in doc[ent.end : nxt.start])


def _listed(doc, a, b) -> bool:
    """Whether entities ``a`` then ``b`` are neighbours in a list: one or two
    tokens between them, each a comma, "and" or "or"."""
    return 1 <= b.start - a.end <= 2 and all(t.lower_ in (",", "and", "or") for t in doc[a.end : b.start])


def list_cue(doc, ents: list, i: int) -> str | None:
    """``"org"`` for a one-word "person" in a list of mostly organisations:
    "Facebook, Twitter and Instagram" (the list: the entities around it
    joined by commas, "and" or "or"; more of them ORG than PERSON). In a
    list of players ("Irwin, McAteer, Harte, McLoughlin") a stray ORG does
    not make organisations of the others."""
    ent = ents[i]
    if ent.label_ != "PERSON" or " " in ent.text:
        return None
    lo = hi = i
    while lo > 0 and i - lo < 30 and _listed(doc, ents[lo - 1], ents[lo]):
        lo -= 1
    while hi + 1 < len(ents) and hi - i < 30 and _listed(doc, ents[hi], ents[hi + 1]):
        hi += 1
    labels = [e.label_ for e in ents[lo : hi + 1]]
    return "org" if labels.count("ORG") > labels.count("PERSON") else None


def byline_or_credit(doc, ent) -> bool:
    """A name that opens a line after "By", "Photo:", "Image:", "Credit:"."""
    i = ent.start
    if i >= 1 and doc[i - 1].text in (":", "/") and i >= 2:
        return doc[i - 2].lower_ in _CREDIT_WORDS and _starts_line(doc, i - 2)
    return i >= 1 and doc[i - 1].lower_ in _CREDIT_WORDS and _starts_line(doc, i - 1)


#: A regnal number after a name: "Henry VIII", "Pope John Paul II", "Charles III".
_ROYAL = frozenset("king queen emperor empress pope tsar czar tsarina kaiser sultan shah pharaoh".split())
_REGNAL = re.compile(r"^(?:I{1,3}|IV|VI{0,3}|IX|XI{0,3}|XIV|XVI{0,3})$")


def regnal_end(doc, ent) -> int:
    """The end of ``ent`` (a PERSON) with the regnal number the model left
    after it ("Henry" + "VIII"), or ``ent.end``. "I" counts only after a
    one-word name, and after a sovereign's title or before punctuation, "of"
    or the end ("Queen Elizabeth I born", "Elizabeth I of England"; not
    "... told Anna I would")."""
    end = ent.end
    if end >= len(doc) or not doc[end - 1].whitespace_ or not _REGNAL.match(doc[end].text):
        return end
    if doc[end].text == "I" and not (
        len(ent) == 1
        and (
            (ent.start > 0 and doc[ent.start - 1].lower_ in _ROYAL)
            or end + 1 == len(doc)
            or doc[end + 1].is_punct
            or doc[end + 1].lower_ in ("of", "'s", "’s")
        )
    ):
        return end
    return end + 1


def nation_after(doc, ent, gaz: Gazetteer) -> bool:
    """Whether ``ent`` is followed by a nation in brackets, as results name
    athletes and clubs: "Magali Faure (France)", "Red Star (Serbia)"
    (the model sometimes takes the opening bracket into the entity)."""
    k = ent.end - 1 if ent[-1].text == "(" else ent.end
    if k >= len(doc) or doc[k].text != "(":
        return False
    for j in range(k + 2, min(k + 6, len(doc))):
        if doc[j].text == ")":
            place = gaz.place(doc[k + 1 : j].text)
            return place is not None and place.nation
    return False


def bracket_side(labels: list[str]) -> str | None:
    """The label of a document's "name (nation)" entries when at least three
    of them, and twice as many as the other side, agree (``"PERSON"`` for a
    table of athletes, ``"ORG"`` for one of clubs): the same construction
    names the same kind of thing, and the model's odd one out is wrong."""
    persons, orgs = labels.count("PERSON"), labels.count("ORG")
    if persons >= 3 and persons >= 2 * orgs:
        return "PERSON"
    if orgs >= 3 and orgs >= 2 * persons:
        return "ORG"
    return None
