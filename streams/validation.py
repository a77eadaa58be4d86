"""Strict checks of what publishers send: envelopes, URLs and text fields (issue 20).

Anyone who can publish to ``articles.raw`` can send anything. These checks
turn what must not become an article into a :class:`RecordError` with a
reason, which the parse stage dead-letters: an envelope that is not valid
UTF-8 JSON (an invalid byte, a lone surrogate escape) is not read as a bare
page whose text is the envelope; a URL must be http or https with a host; no
field may hold a control character. :func:`streams.records.decode_raw`
calls them.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from urllib.parse import urlsplit

import orjson


class RecordError(ValueError):
    """A message's bytes are not a valid record of the expected kind.

    ``reason`` is a short, stable phrase for dead letters and logs.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


_ENVELOPE_KEYS = frozenset({"html", "text", "url", "content_type"})
_ENVELOPE_START = re.compile(rb'\{\s*"[^"\\]{0,100}"\s*:')  # a JSON object's first key: no page opens so
MAX_URL_CHARS = 8192  # Elasticsearch refuses keyword terms over 32,766 bytes; no real URL comes close


def meant_as_envelope(value: bytes) -> bool:
    """Whether a value orjson could not read was meant as an envelope: it opens
    as a JSON object does (``{"url":``, ``{"title":`` ...: a cut-off envelope), or,
    read leniently (invalid bytes replaced; lone surrogates and raw control
    characters allowed, as Python's json module can), it is an object with an
    envelope key."""
    if _ENVELOPE_START.match(value.lstrip()):
        return True
    try:
        obj = json.loads(value.decode("utf-8", "replace"), strict=False)
    except ValueError:
        return False
    return isinstance(obj, dict) and bool(_ENVELOPE_KEYS & obj.keys())


def envelope_fault(value: bytes, exc: orjson.JSONDecodeError) -> str:
    """Say what is wrong with an envelope orjson refused."""
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not UTF-8: byte 0x{value[bad.start]:02x} at offset {bad.start}"
    if "surrogate" in str(exc).lower():
        return f"a lone surrogate escape (such as \\ud800) in a string: {exc}"
    return f"not valid JSON: {exc}"


def check_text_field(name: str, text: str) -> None:
    """Reject control characters (C0, DEL, C1) in an envelope's or header's ``name`` field.

    Raises:
        RecordError: reason ``"invalid <name>"``, naming the character and its position.
    """
    for i, ch in enumerate(text):
        if ch < " " or "\x7f" <= ch <= "\x9f":
            raise RecordError(f"invalid {name}", f"control character U+{ord(ch):04X} at position {i}")


def check_url(url: str) -> None:
    """Check an article URL: http or https, a host, a valid port, no control
    character or whitespace, at most :data:`MAX_URL_CHARS` characters.

    Raises:
        RecordError: reason ``"invalid url"`` with what is wrong (never the
            whole URL: it may be long or carry credentials).
    """
    if len(url) > MAX_URL_CHARS:
        raise RecordError("invalid url", f"{len(url)} characters, more than {MAX_URL_CHARS}")
    check_text_field("url", url)
    if any(ch.isspace() for ch in url):
        raise RecordError("invalid url", "whitespace inside the URL")
    scheme, sep, _ = url.partition(":")
    if not sep or scheme.lower() not in ("http", "https"):
        raise RecordError("invalid url", f"scheme {scheme[:20]!r} is not http or https" if sep else "no scheme")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a port out of range)
    except ValueError as exc:
        raise RecordError("invalid url", str(exc)) from exc
    if not parts.hostname:
        raise RecordError("invalid url", "no host")


def check_datetime(text: str) -> None:
    """Reject an envelope's ``fetched_at`` that is not ISO 8601. Raises :class:`RecordError`."""
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RecordError("invalid fetched_at", f"{text!r} is not an ISO 8601 date or time") from exc
