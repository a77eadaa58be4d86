"""Parse stage: pure functions from a raw article to a ParsedArticle.

Public API (stable, used by the agents and the CLI):

* :func:`parse` ``(raw: RawArticle) -> ParsedArticle``, raises
  :class:`ParseRejected` for input that is not an article (reasons ``empty
  input``, ``binary input``, ``undecodable input``, ``no article text``).

Modules, one per step: ``core`` (orchestration), ``charset`` (decoding,
sniffing), ``html`` (HTML pages: the body vote of trafilatura,
rs-trafilatura and Readability, metadata), ``ensemble`` (the vote itself),
``text`` (plain-text pages: which lines are the article), ``textlines`` and
``textfields`` (what a text line is; title, byline, caption, date, tags
around the article), shared rules in ``words``, ``furniture``, ``dates``,
``metadata`` and ``language``, and ``extracted`` (the record an extractor
returns). No I/O and no NLP model here; the HTML extractors are imported
only when an HTML page is parsed.
"""

from streams.parsing.core import parse
from streams.parsing.exceptions import ParseRejected

__all__ = ["ParseRejected", "parse"]
