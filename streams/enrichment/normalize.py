"""Normalisation of raw NER mentions into the entities a newsroom can trust.

Each step is a small pure function with its own tests
(``tests/enrichment/test_normalize.py``, ``test_junk_and_names.py``):

1. :func:`clean_name` - surface clean-up (whitespace, quotes, brackets,
   possessive "'s", a lower-case "the", trailing lower-case words, scores
   and credit words, honorifics and titles before a person's name).
2. :func:`junk_reason` - drops numeric labels, lone common words, title words
   ("State" in "Secretary of State"), lower-case spans, role phrases ("Jane
   Doe is a reporter"), time zones.
3. :func:`group_mentions` - one group per canonical key: a country's every
   name ("US", "the United States") shares the key ``country:US``, another
   known place's every name ``place:...`` ("Rangoon", "Yangon"), a
   demonym's forms ("Russian", "Russians") ``norp:RU``; a context cue
   (:class:`Rules`) votes ORG.
4. :func:`vote_label` - label voting across all mentions of a group, the
   gazetteer breaking ties and overriding the model where it is sure (a
   country name is a GPE, a demonym a NORP).
5. :func:`fold_short_forms` / :func:`fold_acronyms` - "Blinken" -> "Antony
   Blinken", "Zelenskyy" -> "Volodymyr Zelenskiy", "UN" -> "United Nations"
   (the last only when :attr:`Rules.fold_acronyms`).
6. :func:`corroborated` - names seen only in the title (headline fragments)
   are dropped unless the gazetteer knows them.
7. :func:`build_entities` - the whole chain, mentions in, entity dicts out,
   with the choices of :class:`Rules` (chosen by cross-validation,
   ``bench/entities.py``).

Labels are OntoNotes 5 (the scheme of spaCy's English pipelines).
The rules are ours, written for this project; the title-word list is the
usual English forms of address and offices.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from spacy.lang.en.stop_words import STOP_WORDS

from streams.enrichment.gazetteer import Gazetteer, Place, fold, gazetteer

#: Labels we keep; the others (DATE, TIME, PERCENT, MONEY, QUANTITY, ORDINAL,
#: CARDINAL) are values, not entities.
KEEP_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
# Tie-break order of the vote (earlier wins a tie).
_PRIORITY = {
    lab: i
    for i, lab in enumerate(
        ["PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "LAW", "WORK_OF_ART", "LANGUAGE"]
    )
}
#: Weight of a mention's vote by where it was found. Rules on the fields that
#: name people and organisations (authors, publisher, credit) are surer than
#: the model; the title (often Title Case) less sure than the body.
SOURCE_WEIGHT = {"body": 1.0, "caption": 1.0, "title": 0.5, "author": 3.0, "publisher": 3.0, "credit": 3.0}
_RULE_SOURCES = frozenset({"author", "publisher", "credit"})

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
_CONNECTORS = frozenset({"of", "the", "for", "and", "&", "de", "du", "des", "la", "le"})
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
    "Blinken", "Secretary of State Antony Blinken" -> "Antony Blinken").
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
        titled = False
        while len(words) > 1 and (
            words[0].casefold() in TITLE_WORDS or (titled and words[0].casefold() in _CONNECTORS)
        ):
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
    import datetime
    import zoneinfo

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
    if all(w.casefold() in TITLE_WORDS or w.casefold() in _CONNECTORS for w in words):
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


@dataclass(frozen=True)
class Rules:
    """The choices of the normalisation that an on/off or a threshold decides.

    Defaults are the values chosen by cross-validation on annotated news
    (``bench/entities.py`` chooses among them fold by fold and prints the
    cross-validated figure beside the plain one).

    * ``cues``: a mention's context may overrule the model's label
      (:attr:`Mention.cue`): a "person" right after "on", "at" or "via", or
      with a capital inside ("SpaceX"), or listed with organisations, is an
      ORG; so is a "person" or place followed by a word of companies and
      platforms ("Twitter users", "Alibaba shares", "Emirates fleet").
    * ``team_cues``: a place that is not a country next to a score or a
      result verb ("Liverpool 2-0", "Liverpool beat") is a team, an ORG.
    * ``person_share``: a short form ("Trump") is folded into the article's
      full name ("Donald Trump") when at least this share of its votes say
      PERSON; below it, the short form is something else the article names
      on its own (the company "Ford" beside "Henry Ford").
    * ``fold_acronyms``: fold "UN" into "United Nations" (one organisation,
      one name) or keep the acronym as an entity of its own.
    * ``unknown_gpe_org``: a one-word GPE that the gazetteer does not know
      and that is not a demonym is an ORG ("Alibaba", "Ubisoft").
    * ``initial_zipf``: a one-word name seen only at the start of sentences
      or lines whose lower-case form is this common in English (wordfreq's
      Zipf scale) or more is a capitalised common word ("Editorial",
      "Volunteer"), not a name; None: keep.
    * ``lone_person``: a one-word PERSON that is no short form of a full
      name in the article ("Twitter", "Xi"): ``"keep"``, ``"org"`` (call it
      an organisation) or ``"drop"``.
    """

    cues: bool = True
    team_cues: bool = True
    person_share: float = 0.0
    fold_acronyms: bool = False
    unknown_gpe_org: bool = False
    initial_zipf: float | None = None
    lone_person: str = "keep"


DEFAULT_RULES = Rules()


@dataclass(slots=True)
class Mention:
    """One mention: cleaned ``name``, OntoNotes ``label``, ``source`` (one of
    the keys of :data:`SOURCE_WEIGHT`), ``position`` (order of appearance),
    ``cue`` (``"org"`` or ``"team"`` when the context says so, see
    :class:`Rules`), ``initial`` (at the start of a sentence or line)."""

    name: str
    label: str
    source: str
    position: int = 0
    cue: str | None = None
    initial: bool = False


@dataclass
class Group:
    """All mentions of one canonical name (see :func:`group_mentions`)."""

    key: str
    names: Counter = field(default_factory=Counter)
    votes: Counter = field(default_factory=Counter)
    sources: set = field(default_factory=set)
    mentions: int = 0
    first: int = 0
    place: Place | None = None
    demonym: str | None = None
    label: str = ""
    initial_only: bool = True

    @property
    def display(self) -> str:
        """Canonical name: the gazetteer's for places, else the commonest form (ties: longest)."""
        if self.place is not None and self.label in PLACE_LABELS:
            return self.place.name
        return max(self.names.items(), key=lambda kv: (kv[1], len(kv[0]), -_first_index(self, kv[0])))[0]

    def merge(self, other: "Group") -> None:
        """Add ``other``'s mentions to this group (its label is kept)."""
        self.mentions += other.mentions
        self.sources |= other.sources
        self.first = min(self.first, other.first)
        self.initial_only = self.initial_only and other.initial_only


def _first_index(group: Group, name: str) -> int:
    return list(group.names).index(name)


def _place_key(place: Place) -> str:
    if place.kind == "country":
        return f"country:{place.code}"
    return f"place:{place.code}:{place.kind}:{place.name}"


def group_mentions(
    mentions: Iterable[Mention], gaz: Gazetteer | None = None, rules: Rules = DEFAULT_RULES
) -> dict[str, Group]:
    """Group mentions by canonical key; returns ``{key: Group}`` in first-seen order.

    Keys: ``country:XX`` for every name of country XX, ``place:XX:kind:Name``
    for every name of another place the gazetteer knows ("Rangoon" and
    "Yangon" are one), ``norp:XX`` for a demonym of XX, else the folded name
    (:func:`gazetteer.fold`). With ``rules.cues``, a mention with a cue votes
    ORG (:class:`Rules`).
    """
    gaz = gaz or gazetteer()
    groups: dict[str, Group] = {}
    for m in mentions:
        place = gaz.place(m.name)
        demonym = None if place else gaz.demonym(m.name)
        if place is not None:
            key = _place_key(place)
        elif demonym is not None:
            key = f"norp:{demonym}"
        else:
            key = fold(m.name)
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(key=key, first=m.position, place=place, demonym=demonym)
        label = m.label
        if (
            m.cue is not None
            and (rules.cues if m.cue == "org" else rules.team_cues)
            and not (place is not None and place.kind == "country")
        ):
            label = "ORG"
        g.names[m.name] += 1
        g.votes[label] += SOURCE_WEIGHT.get(m.source, 1.0)
        g.sources.add(m.source)
        g.mentions += 1
        g.initial_only = g.initial_only and m.initial
    return groups


def vote_label(votes: Mapping[str, float], place: Place | None = None, demonym: str | None = None) -> str:
    """The label of a group from its weighted ``votes`` ``{label: weight}``.

    * a demonym ("Russian") is NORP whatever the model said;
    * a country name is GPE unless every vote says PERSON ("Chad" the man);
    * otherwise the heaviest label wins; a place the gazetteer knows gets
      +0.5 for GPE (a tie-break); ties go to PERSON > ORG > GPE > LOC > NORP
      > FAC > others; a known place labelled LOC/FAC becomes GPE
      (OntoNotes labels cities and countries GPE), and so does a country
      labelled NORP, but not a city: "Roman" (an adjective, and a town in
      Romania) stays NORP.

    Raises ValueError when ``votes`` is empty.
    """
    if demonym is not None:
        return "NORP"
    if not votes:
        raise ValueError("no votes")
    if place is not None and place.kind == "country" and set(votes) != {"PERSON"}:
        return "GPE"
    scores = dict(votes)
    if place is not None:
        scores["GPE"] = scores.get("GPE", 0.0) + 0.5
    label = max(scores, key=lambda lab: (scores[lab], -_PRIORITY.get(lab, 99)))
    if place is not None and (label in ("LOC", "FAC") or (label == "NORP" and place.kind == "country")):
        label = "GPE"
    return label


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
        key = _variant_words(_words(g.display))
        if key in by_variant and g.key in groups:
            target = by_variant[key]
            target.merge(g)
            del groups[g.key]
            folded[g.key] = target.key
        else:
            by_variant.setdefault(key, g)
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
    return "".join(w[0] for w in name.split(" ") if w and w[0].isupper() and w.casefold() not in _CONNECTORS)


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


def corroborated(group: Group) -> bool:
    """Whether a group is more than a headline fragment.

    True when it was seen in the body or named by a field rule (author,
    publisher, credit), or the gazetteer knows it (place, demonym), or the
    caption names it as an organisation or a person's full name. A name seen
    only in the title (often in Title Case, where the model guesses) is False.
    """
    if group.sources & ({"body"} | _RULE_SOURCES):
        return True
    if group.place is not None or group.demonym is not None:
        return True
    if "caption" in group.sources:
        return group.label == "ORG" or (group.label == "PERSON" and " " in group.display)
    return False


def build_entities(
    mentions: Iterable[Mention], gaz: Gazetteer | None = None, rules: Rules = DEFAULT_RULES
) -> list[dict]:
    """Run steps 3-6 over cleaned, non-junk ``mentions``; return entity dicts.

    ``rules`` are the choices of :class:`Rules` (defaults: cross-validated).

    Each dict is ``{"name": str, "label": str, "mentions": int, "country":
    str | None}`` (``country`` the alpha-2 code of a place or demonym), sorted
    by mentions (descending), then by first appearance.
    """
    gaz = gaz or gazetteer()
    groups = group_mentions(mentions, gaz, rules)
    for g in groups.values():
        g.label = vote_label(g.votes, g.place, g.demonym)
        if (
            rules.unknown_gpe_org
            and g.label == "GPE"
            and g.place is None
            and " " not in g.display
            and gaz.demonym(g.display) is None
        ):
            g.label = "ORG"
    if rules.initial_zipf is not None:
        from streams.enrichment.keywords import zipf

        for key, g in list(groups.items()):
            name = g.display
            if (
                g.initial_only
                and " " not in name
                and g.place is None
                and g.demonym is None
                and not g.sources & _RULE_SOURCES
                and zipf(name.lower()) >= rules.initial_zipf
            ):
                del groups[key]
    fold_short_forms(groups, rules.person_share)
    if rules.fold_acronyms:
        fold_acronyms(groups)
    if rules.lone_person != "keep":
        for key, g in list(groups.items()):
            if g.label == "PERSON" and " " not in g.display and not g.sources & _RULE_SOURCES:
                if rules.lone_person == "drop":
                    del groups[key]
                else:
                    g.label = "ORG"
    out = []
    for g in sorted(groups.values(), key=lambda g: (-g.mentions, g.first)):
        if not corroborated(g):
            continue
        if g.label == "NORP":
            country = g.demonym
        elif g.label in PLACE_LABELS and g.place is not None:
            country = g.place.code
        else:
            country = None
        out.append({"name": g.display, "label": g.label, "mentions": g.mentions, "country": country})
    return out
