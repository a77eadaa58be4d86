"""Parse stage: pure functions from a raw article to a ParsedArticle.

Public API (stable, used by the agents and the CLI):

* :func:`parse` ``(raw: RawArticle) -> ParsedArticle``, raises
  :class:`ParseRejected` for input that is not an article (reasons ``empty
  input``, ``binary input``, ``undecodable input``, ``no article text``).

Modules, one per step: ``core`` (orchestration), ``html`` (trafilatura and
htmldate with our corrections), ``text`` (plain-text pages: furniture removal,
caption, byline, tags), ``fields`` (shared rules: charset, dates, bylines,
titles, tags, language, furniture phrases). No I/O and no NLP model here;
trafilatura is imported only when an HTML page is parsed.
"""

from streams.parsing.core import parse
from streams.parsing.exceptions import ParseRejected

__all__ = ["parse", "ParseRejected"]
