"""The parse and enrich stages' work, as their child processes run it (:mod:`streams.isolation`).

Each ``*_work`` function is a child's set-up: it loads and warms up what the
stage needs, so that a message's time budget is spent on that message, and
returns the work function the child calls with a request's items. The work
function answers every item, in order, with an :data:`Answer`:

* ``("ok", key, value)``: the record to send on (its key and bytes);
* ``("letter", stage, reason, error, detail)``: the message goes to the
  dead-letter topic (a rejection, a parser error, a plugin's error).

A parse item is ``(value, headers, key)`` of a raw message (the envelope is read
here too: all the work on input runs under the budget); an enrich item is the
bytes of a parsed record. The agents (:mod:`streams.agents`) send the
answers through their outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from indexers.elasticsearch.merge import routing_key
from streams.parsing import ParseRejected, parse
from streams.publish import raw_key
from streams.records import EnrichedArticle, ParsedArticle, RawArticle, RecordError, decode_raw
from streams.settings import get_settings

log = logging.getLogger(__name__)

#: ``("ok", key, value)`` or ``("letter", stage, reason, error, detail)``.
Answer = tuple[Any, ...]

_WARM_UP_TEXT = (
    "Ferry line opens in Lisbon\n\n"
    "The harbour authority of Lisbon opened a new ferry line across the Tagus on Monday morning. "
    "Officials said the line would carry commuters between the two banks every twenty minutes.\n"
)
_WARM_UP_HTML = (
    "<html><head><title>Ferry line opens in Lisbon</title>"
    '<meta property="article:published_time" content="2026-01-05T08:00:00Z"></head><body><article>'
    "<h1>Ferry line opens in Lisbon</h1>"
    + "".join(f"<p>{line}</p>" for line in _WARM_UP_TEXT.splitlines()[2:])
    + "</article></body></html>"
)


def _letter(stage: str, exc: BaseException, reason: str | None = None) -> Answer:
    text = str(exc).strip()
    return (
        "letter",
        stage,
        reason or getattr(exc, "reason", None) or (text.splitlines()[0][:300] if text else exc.__class__.__name__),
        exc.__class__.__name__,
        text,
    )


def parse_message(value: bytes, headers: dict[str, bytes], key: bytes | None = None) -> Answer:
    """Decode and parse one raw message (its value, headers and Kafka key): its :data:`Answer`."""
    try:
        raw = decode_raw(value, headers)
        parsed = parse(raw)
        parsed.raw_key = raw_key(key, raw)
    except (RecordError, ParseRejected) as exc:
        return _letter("parse", exc)
    except Exception as exc:  # a parser bug must not stop the stream
        log.exception("parse failed")
        return _letter("parse", exc, f"parser error: {exc.__class__.__name__}")
    return ("ok", parsed.id.encode(), parsed.to_bytes())


def parse_work() -> Callable[[list[tuple[bytes, dict[str, bytes], bytes | None]]], Iterator[Answer]]:
    """Set up the parse child: the extractors imported and run once (trafilatura,
    htmldate and rs-trafilatura load lazily: about 0.5 s on the first page)."""
    parse(RawArticle(content=_WARM_UP_HTML, content_type="html", url="https://news.example.com/ferry"))
    parse(RawArticle(content=_WARM_UP_TEXT, content_type="text"))

    def work(items: list[tuple[bytes, dict[str, bytes], bytes | None]]) -> Iterator[Answer]:
        for value, headers, key in items:
            yield parse_message(value, headers, key)

    return work


def enrich_work() -> Callable[[list[bytes]], Iterator[Answer]]:
    """Set up the enrich child: the spaCy pipeline, the gazetteer and the
    enricher plugins loaded (each plugin's ``setup()`` called), one article enriched."""
    # imported here: only the enrich child needs spaCy and the plugins
    from streams.enrichment import enrich, iter_enrich, load_nlp  # noqa: PLC0415
    from streams.enrichment.gazetteer import gazetteer  # noqa: PLC0415
    from streams.plugins import load_enrichers  # noqa: PLC0415

    settings = get_settings()
    nlp = load_nlp(settings.spacy_model)
    gazetteer()
    enrichers = load_enrichers(settings)
    list(iter_enrich([parse(RawArticle(content=_WARM_UP_TEXT, content_type="text"))], nlp))

    def with_plugins(item: EnrichedArticle) -> Answer:
        for plugin in enrichers:
            try:
                item.extra.update(plugin.run(item))
            except Exception as exc:
                return _letter(plugin.name, exc, f"{plugin.name} error: {exc}")
        # keyed by title: the copies of one article (HTML and text, ...) reach one index agent, in order
        return ("ok", routing_key(item.title, item.id), item.to_bytes())

    def enriched(articles: list[ParsedArticle]) -> Iterator[Answer]:
        """One nlp.pipe over the articles; on an error, article by article to isolate it."""
        done = 0
        try:
            for item in iter_enrich(articles, nlp):
                done += 1
                yield with_plugins(item)
        except Exception:
            log.warning("enrich: a batch failed; enriching its articles one at a time", exc_info=True)
            for article in articles[done:]:
                try:
                    item = enrich(article, nlp)
                except Exception as exc:
                    yield _letter("enrich", exc, f"enrich error: {exc}")
                    continue
                yield with_plugins(item)

    def work(items: list[bytes]) -> Iterator[Answer]:
        decoded: list[ParsedArticle | Answer] = []
        for value in items:
            try:
                decoded.append(ParsedArticle.from_bytes(value))
            except RecordError as exc:
                decoded.append(_letter("enrich", exc))
        answers = enriched([d for d in decoded if isinstance(d, ParsedArticle)])
        for d in decoded:
            yield next(answers) if isinstance(d, ParsedArticle) else d

    return work
