"""Names: surface clean-up of a mention (:func:`clean_name`) and what is not an
entity at all (:func:`junk_reason`: numbers, lone common words, title words,
role phrases, time zones, credits).

Pure string rules; the title-word list is the usual English forms of address
and offices; time zones come from the system's tz database.
"""

from __future__ import annotations

import datetime
import functools
import re
import unicodedata
import zoneinfo

from spacy.lang.en.stop_words import STOP_WORDS

from streams.enrichment.gazetteer import Gazetteer, gazetteer

#: Labels we keep; the others (DATE, TIME, PERCENT, MONEY, QUANTITY, ORDINAL,
#: CARDINAL) are values, not entities.
KEEP_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
#: Forms of address and offices: never an entity alone, stripped before a name.
TITLE_WORDS = frozenset(
    """mr mr. mrs mrs. ms ms. miss dr dr. prof prof. sir dame lord lady madam monsieur madame
    president vice-president president-elect vice deputy secretary minister prime chancellor premier
    senator sen sen. rep rep. representative congressman congresswoman governor gov gov. mayor
    king queen prince princess pope emperor sheikh general gen gen. colonel col col. captain capt
    lieutenant lt admiral commander cmdr sergeant sgt chief head director chairman chairwoman chair ceo
    ambassador envoy spokesman spokeswoman spokesperson judge justice commissioner officer
    state foreign defence defense interior""".split()
)
CONNECTORS = frozenset({"of", "the", "for", "and", "&", "de", "du", "des", "la", "le"})
_QUOTES = "\"'“”‘’«»„‚()[]{}<>,;:!?*•►–—-_ "
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")
_SPACES = re.compile(r"\s+")


_UNBALANCED = re.compile(r"\s*[(\[][^)\]]*$")
_BRACKETED = re.compile(r"\s*[(\[][^)\]]*[)\]]")
#: A caption's credit that the model runs into a name: "Ahmed Mohamed Image: ...".
_CREDIT_TAIL = frozenset({"Image", "Photo", "Photograph", "Picture", "Credit", "File"})
_SCORE = re.compile(r"^[\d.,:/–—-]+$")


def clean_name(text: str, label: str) -> str:
    """Clean the surface form of a mention; returns "" when nothing is left.

    Collapses whitespace (NFC), drops a bracketed part, closed or not
    ("National League for Democracy (NLD" -> "National League for
    Democracy"; the acronym is a mention of its own), strips quotes and
    punctuation at both ends (a final "." only when the name has no other
    dot, so "U.S." stays), a possessive ("Moscow's" -> "Moscow"), a
    lower-case leading "the", trailing lower-case words ("Phil Helsel is a
    reporter" -> "Phil Helsel", "The Associated Press that" -> "The
    Associated Press"), trailing numbers and scores ("Uchiyama 6-2" ->
    "Uchiyama") and a trailing credit word ("Ahmed Mohamed Image" -> "Ahmed
    Mohamed"), and for a PERSON the forms of address and offices in front
    of the name ("President Joe Biden" -> "Joe Biden", "Mr. Blinken" ->
    "Blinken", "Secretary of State Antony Blinken" -> "Antony Blinken",
    "Belgian King Baudouin" -> "Baudouin").
    """
    name = _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip(_QUOTES)
    name = _UNBALANCED.sub("", _BRACKETED.sub("", name)).strip(_QUOTES)
    if name.endswith(".") and name.count(".") == 1:
        name = name[:-1]
    name = _POSSESSIVE.sub("", name).strip(_QUOTES)
    if name.startswith("the "):
        name = name[4:]
    words = name.split(" ")
    while len(words) > 1 and (words[-1][:1].islower() or _SCORE.match(words[-1]) or words[-1] in _CREDIT_TAIL):
        words.pop()
    if label == "PERSON":
        if len(words) > 2 and words[1].casefold() in TITLE_WORDS and gazetteer().demonym(words[0]) is not None:
            words.pop(0)  # "Belgian King Baudouin": the nationality before an office
        titled = False
        while len(words) > 1 and (words[0].casefold() in TITLE_WORDS or (titled and words[0].casefold() in CONNECTORS)):
            titled = True
            words.pop(0)
    name = _POSSESSIVE.sub("", " ".join(words)).strip(_QUOTES)
    return name


#: Words of a byline or credit: a name with one of them in lower case is a
#: role phrase ("Tom Gillespie News reporter"), not an entity.
ROLE_WORDS = frozenset(
    """reporter reporters correspondent correspondents editor editors writer writers columnist
    contributor contributors photographer photographers producer anchor""".split()
)


@functools.lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """Time-zone abbreviations ("GMT", "EST", "CEST"...), read from the tz
    database (Python's ``zoneinfo``: each zone's names in January and July),
    plus "GMT" and "UTC" where the system has no tz database."""

    out = {"GMT", "UTC"}
    try:
        zones = zoneinfo.available_timezones()
    except Exception:  # pragma: no cover - no tz database on the system
        zones = set()
    for zone in zones:
        try:
            tz = zoneinfo.ZoneInfo(zone)
        except Exception:  # pragma: no cover - a broken zone file
            continue
        for month in (1, 7):
            abbr = datetime.datetime(2024, month, 15, tzinfo=tz).tzname() or ""
            if abbr.isalpha() and abbr.isupper() and 2 < len(abbr) <= 5:
                out.add(abbr)
    return frozenset(out)


def junk_reason(
    name: str,
    label: str,
    *,
    tags: tuple[str, ...] = (),
    lower_seen: bool = False,
    gaz: Gazetteer | None = None,
    raw: str = "",
) -> str | None:
    """Why the mention ``name``/``label`` is junk, or None to keep it.

    ``tags`` are the Penn tags of its tokens (from the model; empty when not
    known), ``lower_seen`` whether the text also has the name in lower case.
    A lone word is a "common word" when it is an English stop word, is seen in
    lower case, or is not tagged a proper noun (NNP/NNPS); a name the
    gazetteer knows as a place or demonym never is. ``raw`` is the model's
    span before :func:`clean_name`: a :data:`ROLE_WORDS` word in lower case
    in it makes a ``"role phrase"`` ("Phil Helsel is a reporter"); a time
    zone abbreviation ("GMT") is a ``"time zone"``. Reasons (stable strings):
    ``"label"``, ``"no letters"``, ``"lower case"``, ``"title word"``,
    ``"role phrase"``, ``"time zone"``, ``"common word"``.
    """
    if label not in KEEP_LABELS:
        return "label"
    if raw and any(w in ROLE_WORDS for w in raw.split()):
        return "role phrase"
    if sum(ch.isalpha() for ch in name) < 2:
        return "no letters"
    if not any(ch.isupper() for ch in name):
        return "lower case"
    words = name.split(" ")
    if all(w.casefold() in TITLE_WORDS or w.casefold() in CONNECTORS for w in words):
        return "title word"
    if name in time_zones():
        return "time zone"
    if len(words) == 1 and label != "NORP":
        gaz = gaz or gazetteer()
        if gaz.place(name) is None and gaz.demonym(name) is None:
            proper = all(t in ("NNP", "NNPS") for t in tags)
            if lower_seen or not proper or name.casefold() in STOP_WORDS:
                return "common word"
    return None
