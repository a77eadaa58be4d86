"""Parse stage: pure functions from a raw article to a ParsedArticle.

Public API (stable, used by the agents and the CLI):

* :func:`parse` ``(raw: RawArticle) -> ParsedArticle``, raises
  :class:`ParseRejected` for input that is not an article (empty, binary,
  undecodable).

No I/O and no NLP model here.
"""

from streams.parsing.exceptions import ParseRejected
from streams.parsing.core import parse

__all__ = ["parse", "ParseRejected"]
