"""Orchestration of the enrich stage (placeholder, replaced by the real one)."""

from __future__ import annotations

import functools

from streams.enrichment.exceptions import EnrichmentError
from streams.records import EnrichedArticle, ParsedArticle

_LABELS = {"PERSON": "persons", "ORG": "organizations", "GPE": "places", "LOC": "places"}


@functools.lru_cache(maxsize=4)
def load_nlp(model: str):
    """Load the spaCy pipeline ``model`` once per process."""
    import spacy

    try:
        return spacy.load(model)
    except OSError as exc:
        raise EnrichmentError(f"spaCy model {model!r} is not installed: {exc}") from exc


def enrich_batch(articles: list[ParsedArticle], nlp) -> list[EnrichedArticle]:
    """Enrich a batch with one nlp.pipe."""
    out = []
    for article, doc in zip(articles, nlp.pipe(a.body for a in articles)):
        fields: dict[str, list[str]] = {"persons": [], "organizations": [], "places": []}
        for ent in doc.ents:
            key = _LABELS.get(ent.label_)
            if key and ent.text not in fields[key]:
                fields[key].append(ent.text)
        out.append(EnrichedArticle.from_parsed(article, **fields, tags=list(article.publisher_tags)))
    return out


def enrich(article: ParsedArticle, nlp) -> EnrichedArticle:
    """Enrich one article."""
    return enrich_batch([article], nlp)[0]
