"""Orchestration of the parse stage (placeholder, replaced by the real parser)."""

from __future__ import annotations

import trafilatura

from streams.parsing.exceptions import ParseRejected
from streams.records import ParsedArticle, RawArticle, stable_id


def parse(raw: RawArticle) -> ParsedArticle:
    """Parse a raw article. Raises :class:`ParseRejected`."""
    content = raw.content
    if isinstance(content, bytes):
        if b"\x00" in content:
            raise ParseRejected("binary input", "NUL byte in content")
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseRejected("undecodable input", str(exc)) from exc
    if not content.strip():
        raise ParseRejected("empty input")
    ctype = raw.content_type or ("html" if "<html" in content[:2000].lower() else "text")
    if ctype == "html":
        body = trafilatura.extract(content) or ""
        title = None
    else:
        lines = [l.strip() for l in content.splitlines() if l.strip()]
        title, body = lines[0], "\n\n".join(lines[1:])
    if not body.strip():
        raise ParseRejected("no article text")
    words = len(body.split())
    return ParsedArticle(
        id=stable_id(raw.url or " ".join(body.split())),
        body=body,
        content_type=ctype,
        url=raw.url,
        title=title,
        word_count=words,
        reading_time_min=max(1, round(words / 230)),
        source=raw.source,
        fetched_at=raw.fetched_at,
    )
