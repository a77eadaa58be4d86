"""Reading publish's input files as raw articles, with the message limit (issue 20).

Inputs are files or folders: ``.txt`` (plain text), ``.html``/``.htm``/
``.html.gz`` (HTML), ``.json`` (one envelope, or a list of them) and
``.jsonl`` (one envelope per line). A file or line that cannot be read is an
:class:`InputError` naming it, and the rest still go. Files are read as
streams with the message limit (:func:`read_bytes`): a gzip bomb is an input
error, not 2 GB of memory. :mod:`streams.publish` sends what this reads.
"""

from __future__ import annotations

import errno
import gzip
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from streams.records import ContentType, RawArticle, RecordError, decode_raw

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


DEFAULT_LIMIT = 8 * 1024 * 1024  # the default of Settings.max_message_bytes
#: A ``.json`` file is one JSON document, parsed whole: it may hold a list of
#: envelopes, so it may be larger than one message, up to this many messages'
#: worth (32 MiB by default); larger lists belong in ``.jsonl``, read a line at a time.
JSON_FILE_MESSAGES = 4
_CHUNK = 1024 * 1024


class InputTooLarge(ValueError):
    """A file, or what a ``.gz`` file expands to, is over the limit it is read with."""


def _open(path: Path) -> BinaryIO:
    """Open ``path`` for reading bytes, un-gzipping ``.gz`` as a stream. Raises OSError."""
    if path.exists() and not path.is_file():  # a FIFO, /dev/zero: no end, or no article
        raise OSError(errno.EINVAL, "not a regular file")
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _kind(path: Path) -> str:
    """The file's name without ``.gz``, lower case: what decides how it is read."""
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def read_bytes(path: Path, limit: int = DEFAULT_LIMIT) -> bytes:
    """Read a file, un-gzipping ``.gz`` as a stream, reading at most ``limit`` bytes.

    Never holds more than ``limit`` + 1 bytes: a ``.gz`` that expands to 2 GB
    (a gzip bomb) costs the first ``limit`` bytes of decompression, not 2 GB.

    Raises:
        OSError, EOFError, gzip.BadGzipFile, zlib.error: the file cannot be read.
        InputTooLarge: the file (or its decompressed content) is over ``limit``.
    """
    with _open(path) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        what = "expands to" if path.name.lower().endswith(".gz") else "is"
        raise InputTooLarge(
            f"{what} more than {limit} bytes, the message limit (NEWSSTREAM_MAX_MESSAGE_BYTES)"
            + (": a gzip bomb?" if what == "expands to" else "")
        )
    return data


def _lines_of(path: Path, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line number, line)`` of a file read as a stream; a line over
    ``limit`` bytes is yielded as ``None`` (and skipped without being held)."""
    with _open(path) as fh:
        lineno = 0
        while True:
            line = fh.readline(limit + 2)
            if not line:
                return
            lineno += 1
            if len(line.rstrip(b"\r\n")) > limit:
                while line and not line.endswith(b"\n"):  # skip the rest of the long line
                    line = fh.readline(_CHUNK)
                yield lineno, None
                continue
            yield lineno, line


def read_articles(
    path: Path, content_type: ContentType | None = None, limit: int = DEFAULT_LIMIT
) -> Iterator[RawArticle | InputError]:
    """Yield the raw articles of one file, or an :class:`InputError` per unreadable file or line.

    ``limit`` is the message limit (``Settings.max_message_bytes``): a page
    file, or a ``.jsonl`` line, over it is an input error, and so is a ``.json``
    file over :data:`JSON_FILE_MESSAGES` times it. Files are read as streams
    (``.gz`` too), so no input costs more memory than that. Never raises: an
    unexpected failure reading one file is that file's input error.
    """
    try:
        yield from _read_articles(path, content_type, limit)
    except InputTooLarge as exc:
        yield InputError(str(path), str(exc))
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or exc.__class__.__name__
        yield InputError(str(path), f"cannot read: {reason}")
    except Exception as exc:  # one file must not stop the others
        yield InputError(str(path), f"cannot read: {exc.__class__.__name__}: {exc}")


def _read_articles(path: Path, content_type: ContentType | None, limit: int) -> Iterator[RawArticle | InputError]:
    name = _kind(path)
    if name.endswith(".jsonl"):
        for lineno, line in _lines_of(path, limit):
            where = f"{path}:{lineno}"
            if line is None:
                yield InputError(where, f"line over the message limit of {limit} bytes (NEWSSTREAM_MAX_MESSAGE_BYTES)")
            elif line.strip():
                yield _envelope(line, where)
    elif name.endswith(".json"):
        try:
            data = read_bytes(path, limit * JSON_FILE_MESSAGES)
        except InputTooLarge as exc:
            raise InputTooLarge(f"{exc}; a list of envelopes this large belongs in a .jsonl file") from None
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            yield InputError(str(path), f"invalid JSON: {exc}")
            return
        items = obj if isinstance(obj, list) else [obj]
        for i, item in enumerate(items, 1):
            yield _envelope(orjson.dumps(item), f"{path}" + (f" item {i}" if isinstance(obj, list) else ""))
    else:
        data = read_bytes(path, limit)
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
