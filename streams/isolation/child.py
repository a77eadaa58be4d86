"""The child's side of :mod:`streams.isolation`: ``python -m streams.isolation.child TARGET``.

The child sets up by calling ``TARGET`` (``module:function``), says ready, then
answers each request's items in order. Frames on its stdin and stdout are an
8-byte big-endian length and a pickle; what the libraries print goes to
stderr, never into the frames. The child asks Linux to kill it when the worker
dies, and exits when its stdin is closed.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import signal
import sys
from collections.abc import Callable, Iterable
from typing import Any

from streams import logfilter
from streams.isolation import HEADER

log = logging.getLogger(__name__)


def _write_frame(out: Any, obj: Any) -> None:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(HEADER.pack(len(payload)))
    out.write(payload)
    out.flush()


def _read_frame(inp: Any) -> Any:
    header = inp.read(HEADER.size)
    if len(header) < HEADER.size:
        return None  # the worker closed our stdin, or is gone
    (size,) = HEADER.unpack(header)
    payload = inp.read(size)
    if len(payload) < size:
        return None
    return pickle.loads(payload)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent (the worker) dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes  # noqa: PLC0415  (the child's set-up only)

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except Exception:  # best effort: stdin's end of file stops an idle child anyway
        pass


def _resolve(target: str) -> Callable[[], Callable[[list[Any]], Iterable[Any]]]:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _setup_logging() -> None:
    """Log warnings and errors as the worker does, on stderr (the worker's output): its
    format (``NEWSSTREAM_LOG_FORMAT``: plain, or one JSON object a line), the libraries'
    ``warnings`` included, a repeated line once per ``NEWSSTREAM_LOG_REPEAT_SECONDS``."""
    from streams.logs import PLAIN_FORMAT, JsonFormatter  # noqa: PLC0415  (the child's set-up only)

    handler = logging.StreamHandler(sys.stderr)
    as_json = os.environ.get("NEWSSTREAM_LOG_FORMAT", "plain").strip().lower() == "json"
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.captureWarnings(True)
    logfilter.install(float(os.environ.get("NEWSSTREAM_LOG_REPEAT_SECONDS", logfilter.DEFAULT_INTERVAL)))


def child_main(target: str) -> None:
    """The child's loop: set up, say ready, then answer each request's items in order."""
    inp = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # what the libraries print goes to stderr, never into our frames
    sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the worker's to handle
    _die_with_parent()
    _setup_logging()
    try:
        work = _resolve(target)()
    except Exception as exc:
        log.exception("set-up failed")
        _write_frame(out, ("failed", f"{exc.__class__.__name__}: {exc}"[:500]))
        sys.exit(1)
    _write_frame(out, ("ready",))
    while True:
        items = _read_frame(inp)
        if items is None:
            return
        try:
            for answer in work(items):
                _write_frame(out, answer)
        except Exception as exc:  # a bug in the work function: its caller tries the items one at a time
            log.exception("work failed")
            _write_frame(out, ("broken", f"{exc.__class__.__name__}: {exc}"[:500]))


if __name__ == "__main__":
    child_main(sys.argv[1])
