"""Plugins the tests load through NEWSSTREAM_ENRICHERS (not installed as packages)."""

from streams.plugins import enricher


@enricher(fields={"explode_checked": "boolean"})
def explode(article):
    """Raise on any article whose title contains EXPLODE; mark the others."""
    if article.title and "EXPLODE" in article.title:
        raise RuntimeError(f"refusing to enrich {article.title!r}")
    return {"explode_checked": True}
