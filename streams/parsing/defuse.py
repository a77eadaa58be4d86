"""Metadata made safe for trafilatura's and htmldate's regular expressions (issue 20).

trafilatura reads meta contents and JSON-LD strings with patterns that are
quadratic on hostile text (tag stripping from every ``<`` to the next ``>``,
author and nickname patterns). :func:`defuse_metadata` cuts and strips those
strings in linear time before trafilatura sees the tree; metadata that needs
none of it is left as it is.
"""

from __future__ import annotations

from typing import Any

import orjson
from lxml.html import HtmlElement

from streams.parsing.markup import drop_keeping_tails


def strip_markup(text: str) -> str:
    """Remove tags (``<...>`` up to the first ``>``) and stray ``<`` from ``text``, in linear time.

    trafilatura strips tags from meta contents and JSON-LD strings with
    ``(<!--.*?-->|<[^>]*>)``, which from every ``<`` scans to the next ``>``:
    on a run of ``<`` with no ``>`` that is quadratic (256 KB of them in one
    meta content: 95 s). Text this has passed holds no ``<``.
    """
    if "<" not in text:
        return text
    parts = text.split("<")
    out = [parts[0]]
    for part in parts[1:]:
        end = part.find(">")
        out.append(part[end + 1 :] if end >= 0 else part)
    return "".join(out)


MAX_INVALID_JSON_CHARS = 4096  # trafilatura reads a broken JSON-LD with regexes that are quadratic in it
# A meta content, or a JSON-LD name, is read by trafilatura's author, title and
# date patterns, some quadratic in it (its nickname pattern on 16 KB of "(": 1.4 s;
# a JSON-LD author name of 128 KB of "(": 168 s). Real ones are short (a
# description ~300 characters, a keyword list a few hundred).
MAX_META_CHARS = 2000
# JSON-LD strings trafilatura never reads (the article's text): left their length
_JSON_TEXT_KEYS = frozenset({"articleBody", "text"})


def _tags_cost_a_scan(text: str) -> bool:
    """Whether stripping tags from ``text`` with ``(<!--.*?-->|<[^>]*>)``, as
    trafilatura does, scans past the next ``<``: a comment, or a ``<`` with no
    ``>`` before the next ``<`` (each such ``<`` scans on: quadratic). When
    every ``<`` is closed first, the scan is linear and the text is left as it is."""
    if "<" not in text:
        return False
    return "<!--" in text or any(">" not in part for part in text.split("<")[1:])


def _defuse_string(text: str, keep_length: bool = False) -> str:
    if _tags_cost_a_scan(text):
        text = strip_markup(text)
    return text if keep_length else text[:MAX_META_CHARS]


def _defuse_json(node: Any, keep_length: bool = False) -> Any:
    if isinstance(node, str):
        return _defuse_string(node, keep_length)
    if isinstance(node, list):
        return [_defuse_json(item, keep_length) for item in node]
    if isinstance(node, dict):
        return {key: _defuse_json(value, key in _JSON_TEXT_KEYS) for key, value in node.items()}
    return node


def defuse_metadata(tree: HtmlElement) -> None:
    """Make the strings trafilatura and htmldate read metadata from safe for their
    regular expressions, in linear time: meta contents and the strings of
    JSON-LD (re-serialised) are cut at :data:`MAX_META_CHARS` characters
    (but the article's text, ``articleBody``), and stripped of tags when they
    hold a ``<`` that trafilatura's tag pattern would scan past
    (:func:`_tags_cost_a_scan`); a JSON-LD script that is not valid JSON and
    longer than :data:`MAX_INVALID_JSON_CHARS` is dropped (trafilatura searches
    a broken one with patterns such as ``"author"[^}[]+?"names?".+?"``: 1.7 s
    on 16 KB, quadratic). Metadata that needs none of this is left as it is
    (a JSON-LD script, byte for byte: the extractors read it too).
    """
    for el in tree.iter("meta"):
        content = el.get("content")
        if content:
            defused = _defuse_string(content)
            if defused != content:
                el.set("content", defused)
    broken = []
    for el in tree.iter("script"):
        if "json" not in (el.get("type") or "") or not el.text:
            continue
        try:
            data = orjson.loads(el.text)
        except orjson.JSONDecodeError:
            if len(el.text) > MAX_INVALID_JSON_CHARS:
                broken.append(el)
            continue
        try:
            defused = _defuse_json(data)
            changed = defused != data
        except RecursionError:  # orjson reads 1,024 levels, Python recurses ~1,000
            broken.append(el)
            continue
        if changed:
            el.text = orjson.dumps(defused).decode()
    drop_keeping_tails(broken)
