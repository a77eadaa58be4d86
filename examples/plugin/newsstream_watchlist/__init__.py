"""A watch-list: mark articles naming watched persons, and alert on them.

WATCHLIST (comma-separated names, default "Antony Blinken") says whom to
watch; WATCHLIST_ALERT_TOPIC (default "articles.alerts") where alerts go.
"""

import os

from streams.plugins import consumer, enricher

WATCHED = {n.strip() for n in os.environ.get("WATCHLIST", "Antony Blinken").split(",") if n.strip()}


@enricher(fields={"watchlist": "keyword"})  # declared fields go into the index mapping
def watchlist(article):  # article: streams.records.EnrichedArticle
    """Add ``watchlist``: the watched persons this article names."""
    return {"watchlist": sorted(WATCHED & set(article.persons))}


@consumer(topic="enriched", name="watchlist-alert")  # own consumer group: newsstream-watchlist-alert
def alert(article, ctx):  # plain or async def: ctx.send works in both
    """Publish an alert for every article that names a watched person."""
    if article.extra.get("watchlist"):
        topic = os.environ.get("WATCHLIST_ALERT_TOPIC", "articles.alerts")
        message = {"id": article.id, "title": article.title, "watchlist": article.extra["watchlist"]}
        ctx.send(topic, message, key=article.id)
