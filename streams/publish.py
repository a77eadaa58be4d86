"""Publishing raw articles to ``articles.raw`` with kafka-python.

Inputs are files or folders: ``.txt`` (plain text), ``.html``/``.htm``/
``.html.gz`` (HTML), ``.json`` (one envelope, or a list of them) and
``.jsonl`` (one envelope per line). An envelope is ``{"url", "content_type",
"html" | "text", "source", "fetched_at"}`` (see the README). A file or line
that cannot be read is reported as a :class:`InputError` naming it, and the
rest still go.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams import kafka
from streams.records import ContentType, RawArticle, RecordError, decode_raw, stable_id
from streams.settings import Settings
from streams.topics import topic_names

HTML_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
KNOWN_SUFFIXES = (*HTML_SUFFIXES, ".txt", ".text", ".json", ".jsonl")


@dataclass
class InputError:
    """An input that could not be read: where (``file`` or ``file:line``) and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def content_type_of(path: Path) -> ContentType:
    """Return ``"html"`` for ``.html``/``.htm``/``.html.gz`` files, else ``"text"``."""
    name = path.name.lower()
    return "html" if name.endswith(HTML_SUFFIXES) else "text"


def expand(paths: list[Path]) -> list[Path]:
    """Expand folders (recursively, files with known suffixes, sorted) and keep files as given."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            for root, _dirs, files in os.walk(p):
                for f in sorted(files):
                    if f.lower().endswith(KNOWN_SUFFIXES) and not f.startswith("."):
                        out.append(Path(root) / f)
        else:
            out.append(p)
    return out


def read_bytes(path: Path) -> bytes:
    """Read a file, un-gzipping ``.gz``. Raises OSError."""
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        data = gzip.decompress(data)
    return data


def read_articles(path: Path, content_type: ContentType | None = None) -> Iterator[RawArticle | InputError]:
    """Yield the raw articles of one file, or an :class:`InputError` per unreadable file or line."""
    try:
        data = read_bytes(path)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        yield InputError(
            str(path), f"cannot read: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
        )
        return
    name = path.name.lower()
    if name.endswith(".jsonl"):
        for lineno, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            yield _envelope(line, f"{path}:{lineno}")
    elif name.endswith(".json"):
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            yield InputError(str(path), f"invalid JSON: {exc}")
            return
        items = obj if isinstance(obj, list) else [obj]
        for i, item in enumerate(items, 1):
            yield _envelope(orjson.dumps(item), f"{path}" + (f" item {i}" if isinstance(obj, list) else ""))
    else:
        if not data.strip():
            yield InputError(str(path), "empty file")
            return
        yield RawArticle(content=data, content_type=content_type or content_type_of(path), source=path.name)


def _envelope(line: bytes, where: str) -> RawArticle | InputError:
    if not line.lstrip().startswith(b"{"):
        return InputError(where, "not a JSON object (an envelope with 'html' or 'text')")
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return InputError(where, f"invalid JSON: {exc}")
    try:
        raw = decode_raw(line)
    except RecordError as exc:
        return InputError(where, str(exc))
    if isinstance(raw.content, bytes):  # decode_raw fell back to bare bytes
        return InputError(where, "not an envelope: needs 'html' or 'text'")
    return raw


def article_key(raw: RawArticle) -> bytes:
    """Return the message key: a stable id of the URL, else of the whitespace-normalised content."""
    if raw.url:
        return stable_id(raw.url).encode()
    content = raw.content if isinstance(raw.content, str) else raw.content.decode("utf-8", "replace")
    return stable_id(" ".join(content.split())).encode()


def ensure_topics(settings: Settings, names: list[str] | None = None, partitions: int | None = None) -> None:
    """Create the pipeline's topics (``settings.partitions`` each) if they do not exist,
    sized to take ``settings.max_message_bytes``; ``names`` instead creates those topics
    (with ``partitions`` partitions when given)."""
    names = names or list(topic_names(settings).values())
    client = kafka.admin(settings)
    try:
        existing = set(client.list_topics())
        config = {"max.message.bytes": str(settings.max_message_bytes + kafka.MESSAGE_OVERHEAD)}
        count = partitions or settings.partitions
        new = [NewTopic(n, count, 1, topic_configs=config) for n in names if n not in existing]
        if new:
            try:
                client.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another worker: as good
    finally:
        client.close()
