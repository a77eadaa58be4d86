"""Enrich stage: pure functions from a ParsedArticle to an EnrichedArticle.

Public API (stable, used by the agents, the CLI and the benchmarks):

* :func:`load_nlp` ``(model: str) -> spacy.Language``: load a spaCy pipeline
  once per process; raises :class:`EnrichmentError` naming the package to
  install when the model is missing.
* :func:`enrich_batch` ``(articles: list[ParsedArticle], nlp) ->
  list[EnrichedArticle]``: one ``nlp.pipe`` over the batch.
* :func:`iter_enrich`: the same, an article at a time as the pipe reads them.
* :func:`enrich` ``(article, nlp) -> EnrichedArticle``: one article.

No I/O here beyond loading the model.
"""

from streams.enrichment.core import enrich, enrich_batch, iter_enrich, load_nlp
from streams.enrichment.exceptions import EnrichmentError

__all__ = ["enrich", "enrich_batch", "iter_enrich", "load_nlp", "EnrichmentError"]
