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

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from streams.enrichment.folding import fold_acronyms, fold_short_forms
from streams.enrichment.frequency import zipf
from streams.enrichment.gazetteer import Gazetteer, Place, fold, gazetteer
from streams.enrichment.names import PLACE_LABELS

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
    * ``missed_countries``: a country's name the model left untagged, outside
      any entity it found, is a GPE mention (:func:`places.missed_countries`).
    * ``table_teams``: an untagged name before a number in a row of results
      or standings is a team, an ORG (:func:`tables.team_mentions`).
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
    missed_countries: bool = True
    table_teams: bool = True


DEFAULT_RULES = Rules()


@dataclass(slots=True)
class Mention:
    """One mention: cleaned ``name``, OntoNotes ``label``, ``source`` (one of
    the keys of :data:`SOURCE_WEIGHT`), ``position`` (order of appearance),
    ``cue`` (``"org"``, ``"team"`` or ``"person"`` when the context says so, see
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
    votes: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # {label: weight}
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

    def merge(self, other: Group) -> None:
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
            and (rules.team_cues if m.cue == "team" else rules.cues)
            and not (place is not None and place.nation)
        ):
            label = "PERSON" if m.cue == "person" else "ORG"
        g.names[m.name] += 1
        g.votes[label] += SOURCE_WEIGHT.get(m.source, 1.0)
        g.sources.add(m.source)
        g.mentions += 1
        g.initial_only = g.initial_only and m.initial
    return groups


def vote_label(votes: Mapping[str, float], place: Place | None = None, demonym: str | None = None) -> str:
    """The label of a group from its weighted ``votes`` ``{label: weight}``.

    * a demonym ("Russian") is NORP whatever the model said;
    * a country or nation name is GPE unless every vote says PERSON ("Chad"
      the man; "Scotland" the side is a place, as news annotation has it);
    * otherwise the heaviest label wins; for a place the gazetteer knows,
      its GPE, LOC and FAC votes count as one GPE vote, +0.5 (a tie-break:
      "Arbil" LOC once, GPE once, ORG twice is a place); ties go to PERSON > ORG > GPE > LOC > NORP
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
    if place is not None and place.nation and set(votes) != {"PERSON"}:
        return "GPE"
    scores = dict(votes)
    if place is not None:
        # GPE, LOC and FAC votes all say "this place": pooled, they are not
        # outvoted by an ORG that a single one of them would tie ("Arbil")
        scores["GPE"] = sum(scores.pop(lab, 0.0) for lab in PLACE_LABELS) + 0.5
    label = max(scores, key=lambda lab: (scores[lab], -_PRIORITY.get(lab, 99)))
    if place is not None and (label in ("LOC", "FAC") or (label == "NORP" and place.kind == "country")):
        label = "GPE"
    return label


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
    # a nation's name the model called a person that is no word of a person's
    # full name in the article is the country ("Benin won 4-1"; not "Michael
    # Jordan ... Jordan said")
    person_words = {w for g in groups.values() if g.label == "PERSON" for w in g.display.split()[1:]}
    for g in groups.values():
        if g.label == "PERSON" and g.place is not None and g.place.nation and g.display not in person_words:
            g.label = "GPE"
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
