"""Plugins the tests load through NEWSSTREAM_ENRICHERS (not installed as packages)."""

from streams.plugins import enricher


@enricher(fields={"explode_checked": "boolean"})
def explode(article):
    """Raise on any article whose title contains EXPLODE; mark the others."""
    if article.title and "EXPLODE" in article.title:
        raise RuntimeError(f"refusing to enrich {article.title!r}")
    return {"explode_checked": True}


@enricher(fields={"persons": "integer"})
def clashing(article):
    """Declares a field the index already maps as keyword."""
    return {"persons": 1}


@enricher(fields={"score": "float"})
def sloppy(article):
    """Returns a field it did not declare."""
    return {"score": 0.5, "oops": True}
