"""Orchestration of the enrich stage: ParsedArticle -> EnrichedArticle.

For a batch, ONE ``nlp.pipe`` runs over the texts the model reads: one
per article, its body, title and image caption joined by a paragraph break
(:func:`_joined`; the title and caption are a few % of the tokens). Everything else is light Python over the parsed docs and lookups
built once per process:

* entities: :mod:`ner` (model mentions + rules for authors, publisher,
  image credit) -> :mod:`normalize` (junk, voting, folding) with
  :mod:`gazetteer` (ISO 3166-1 alpha-2 codes);
* keywords: :mod:`keywords` (statistical key phrases of the body's tokens; no parser);
* tags: publisher tags + countries' names + keywords, case-insensitively unique;
* fingerprint: :mod:`fingerprint` (64-bit simhash of the whole body).

The ``related`` headlines are not read: they name other articles' subjects.
An article the model cannot read (empty body, or ``language`` other than the
model's) still gets what makes sense (fingerprint, entities from the
authors/publisher/credit rules, countries from publisher tags, tags) and says
why the rest is empty in ``enrichment_notes``.
"""

from __future__ import annotations

from collections.abc import Iterator

from streams.enrichment.exceptions import EnrichmentError
from streams.enrichment.fingerprint import simhash
from streams.enrichment.gazetteer import country_from_tag, country_name, fold, gazetteer
from streams.enrichment.keywords import key_phrases, merge_tags
from streams.enrichment.ner import doc_mentions, field_mentions, load_nlp, word_tables
from streams.enrichment.normalize import DEFAULT_RULES, PLACE_LABELS, Mention, Rules, build_entities
from streams.enrichment.places import TEXT_KEY, dateline_mentions, missed_countries
from streams.enrichment.tables import initial_names, team_mentions
from streams.records import EnrichedArticle, ParsedArticle

__all__ = ["enrich", "enrich_batch", "iter_enrich", "load_nlp", "EnrichmentError"]

# Positions of the mentions by source: body first, then title, caption, fields.
_OFFSET = {"body": 0, "title": 1_000_000, "caption": 2_000_000, "fields": 3_000_000}
KEYWORDS_LIMIT = 10
#: The model reads at most this many characters of a body (about 15,000 words,
#: longer than nearly every news article): NER time grows with length, and a
#: 5 MB page must not hold a worker for minutes. The fingerprint uses it all.
MAX_NER_CHARS = 100_000
#: Texts per ``nlp.pipe`` minibatch. The model's own default (its config's
#: ``batch_size``, 1000) puts an agent's whole batch into one minibatch, and
#: memory grows with the tokens of a minibatch: on the 32 longest
#: development-set articles (328,000 characters) the peak RSS was 1052 MiB
#: with the default and 437 MiB with 8, in 20.8 s and 19.5 s (one run).
PIPE_BATCH_TEXTS = 8
#: The most characters of a title or an image caption the model reads (the
#: parse stage keeps no more: :data:`streams.parsing.core.MAX_CAPTION_CHARS`).
MAX_FIELD_CHARS = 2_000


def _language_ok(language: str | None, model_lang: str) -> bool:
    return not language or language.strip().lower().replace("_", "-").split("-")[0] == model_lang


def _truncate(body: str, limit: int) -> str:
    if len(body) <= limit:
        return body
    cut = body.rfind("\n\n", 0, limit)
    return body[: cut if cut > 0 else limit]


def _plan(article: ParsedArticle, nlp) -> tuple[list[tuple[str, str]], list[str]]:
    """The ``(source, text)`` pairs the model reads for ``article``, and notes."""
    notes: list[str] = []
    body = article.body or ""
    if not body.strip():
        notes.append("empty body: no entities from the text, no keywords, no fingerprint")
        return [], notes
    if not _language_ok(article.language, nlp.lang):
        notes.append(
            f"language {article.language!r} is not the model's ({nlp.lang!r}): no entities from the text, no keywords"
        )
        return [], notes
    limit = min(nlp.max_length, MAX_NER_CHARS)
    if len(body) > limit:
        body = _truncate(body, limit)
        notes.append(f"entities and keywords from the first {len(body)} characters of the body only")
    texts = [("body", body)]
    for source, text in (("title", article.title), ("caption", article.image_caption)):
        if text and text.strip():
            # cut as the parse stage cuts them: a 500,000-character <title> would
            # cost the model's time, and past nlp.max_length lose the whole article
            texts.append((source, _truncate(text, MAX_FIELD_CHARS)))
    return texts, notes


#: Between the texts of one article in the text the model reads: a paragraph
#: break, which no entity crosses (:func:`ner.line_breaks`).
JOIN = "\n\n"


def _joined(texts: list[tuple[str, str]]) -> tuple[str, list[tuple[str, int, int]]]:
    """One text for the model per article (body, title, caption joined by
    :data:`JOIN`: one doc instead of up to three, about 3% less model time
    on the development set), and each source's ``(source, start, end)``
    character range in it."""
    parts: list[str] = []
    layout: list[tuple[str, int, int]] = []
    pos = 0
    for source, text in texts:
        if parts:
            parts.append(JOIN)
            pos += len(JOIN)
        parts.append(text)
        layout.append((source, pos, pos + len(text)))
        pos += len(text)
    return "".join(parts), layout


def _keep_text(doc, text: str):
    """``doc`` with the text it was made from kept for :func:`places.text_and_entities`."""
    doc.user_data[TEXT_KEY] = text
    return doc


def _split(doc, layout: list[tuple[str, int, int]]) -> dict:
    """``{source: Span}`` of a joined doc (see :func:`_joined`)."""
    out = {}
    for source, start, end in layout:
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is not None:
            out[source] = span
    return out


def _finish(
    article: ParsedArticle, docs: dict, notes: list[str], tables: dict | None = None, rules: Rules = DEFAULT_RULES
) -> EnrichedArticle:
    gaz = gazetteer()
    mentions: list[Mention] = []
    missed: list[Mention] = []
    for source, doc in docs.items():
        mentions.extend(doc_mentions(doc, source, _OFFSET[source]))
        if rules.missed_countries:
            missed.extend(missed_countries(doc, source, _OFFSET[source], gaz))
        if rules.table_teams:
            missed.extend(team_mentions(doc, source, _OFFSET[source], gaz))
        mentions.extend(initial_names(doc, source, _OFFSET[source]))
    # a name the model labelled otherwise somewhere ("Chad" the man), or a word of a
    # person's name ("Michael Jordan" ... "Jordan scored"), is left to the model's votes
    elsewhere = {fold(m.name) for m in mentions if m.label not in PLACE_LABELS}
    elsewhere |= {fold(w) for m in mentions if m.label == "PERSON" for w in m.name.split()}
    mentions.extend(m for m in missed if fold(m.name) not in elsewhere)
    dateline = dateline_mentions(article.body or "", _OFFSET["body"] - 2) if "body" in docs else []
    if dateline:
        # the dateline's place is read whole: the model's pieces of it go ("MEXICO" of "MEXICO CITY")
        end = (article.body or "").find("\n")
        body_doc = docs["body"]
        pieces = {_OFFSET["body"] + i for i, e in enumerate(body_doc.ents) if e.end_char - body_doc.start_char <= end}
        mentions = [m for m in mentions if m.source != "body" or m.position not in pieces]
        mentions.extend(dateline)
    mentions.extend(field_mentions(article.authors, article.publisher, article.image_credit, _OFFSET["fields"]))
    entities = build_entities(mentions, gaz, rules)

    persons = [e["name"] for e in entities if e["label"] == "PERSON"]
    organizations = [e["name"] for e in entities if e["label"] == "ORG"]
    places = [e["name"] for e in entities if e["label"] in ("GPE", "LOC")]
    countries: list[str] = []
    for e in entities:
        if e["country"] and e["country"] not in countries:
            countries.append(e["country"])

    keywords: list[str] = []
    body_doc = docs.get("body")
    if body_doc is not None:
        keywords = key_phrases(body_doc, KEYWORDS_LIMIT, tables)
    else:
        for tag in article.publisher_tags:
            code = country_from_tag(tag, article.language)
            if code and code not in countries:
                countries.append(code)
        if countries:
            notes.append("countries from the publisher's tags only")

    tags = merge_tags(article.publisher_tags, [country_name(c) or c for c in countries], keywords)
    return EnrichedArticle.from_parsed(
        article,
        entities=entities,
        persons=persons,
        organizations=organizations,
        places=places,
        countries=countries,
        keywords=keywords,
        tags=tags,
        fingerprint=simhash(article.body or ""),
        enrichment_notes=notes,
    )


def enrich_batch(articles: list[ParsedArticle], nlp) -> list[EnrichedArticle]:
    """Enrich a batch of articles with ONE ``nlp.pipe`` over it.

    ``nlp`` is a pipeline from :func:`load_nlp`. Returns one
    :class:`EnrichedArticle` per input, in order, with ``entities`` (dicts
    ``{"name", "label", "mentions", "country"}``, OntoNotes labels, alpha-2
    ``country`` or None), ``persons``, ``organizations``, ``places`` (GPE and
    LOC), ``countries`` (alpha-2, from places and demonyms; from the publisher
    tags when the model cannot read the article), ``keywords`` (up to 10),
    ``tags``, ``fingerprint`` (16 hex digits, None for an empty body),
    ``enrichment_notes`` and an empty ``extra``. Pure: no I/O.

    Docs are consumed as the pipe yields them, in minibatches of
    :data:`PIPE_BATCH_TEXTS` texts, so the batch's docs are not all held in
    memory at once.
    """
    return list(iter_enrich(articles, nlp))


def iter_enrich(articles: list[ParsedArticle], nlp) -> Iterator[EnrichedArticle]:
    """:func:`enrich_batch`, one article at a time as the pipe reads them (the
    enrich stage's child process answers each as soon as it is done)."""
    gazetteer()  # build the lookups before the pipe, once per process
    plans = [_plan(a, nlp) for a in articles]
    joined = [_joined(texts) if texts else None for texts, _ in plans]
    flat = [j[0] for j in joined if j is not None]
    stream: Iterator = iter(nlp.pipe(flat, batch_size=PIPE_BATCH_TEXTS)) if flat else iter(())
    tables = word_tables(nlp)
    for article, (_texts, notes), j in zip(articles, plans, joined):
        docs = _split(_keep_text(next(stream), j[0]), j[1]) if j is not None else {}
        yield _finish(article, docs, notes, tables)


def enrich(article: ParsedArticle, nlp) -> EnrichedArticle:
    """Enrich one article (see :func:`enrich_batch`; batch when you can)."""
    return enrich_batch([article], nlp)[0]
