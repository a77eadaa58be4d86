"""Work functions for the child processes of tests/isolation (``python -m streams.isolation TARGET``).

Items are strings: ``"sleep:S"`` sleeps S seconds, ``"segfault"`` dies of a
real SIGSEGV (a read of address 0), ``"segfault-once:PATH"`` dies the first
time only (PATH records it), ``"raise"`` raises out of the work function;
any other item is answered upper-cased, with the child's pid.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def _answer(item: str) -> tuple[str, int]:
    if item.startswith("sleep:"):
        time.sleep(float(item.split(":", 1)[1]))
    elif item == "segfault":
        ctypes.string_at(0)
    elif item.startswith("segfault-once:"):
        mark = Path(item.split(":", 1)[1])
        if not mark.exists():
            mark.write_text("crashed once")
            ctypes.string_at(0)
    elif item == "raise":
        raise ValueError("a bug in the work function")
    return item.upper(), os.getpid()


def echo() -> Callable[[list[str]], Iterator[tuple[str, int]]]:
    """Answers each item as it goes."""

    def work(items: list[str]) -> Iterator[tuple[str, int]]:
        for item in items:
            yield _answer(item)

    return work


def together() -> Callable[[list[str]], Iterator[tuple[str, int]]]:
    """Works on all the items before answering any (as a batched model does)."""

    def work(items: list[str]) -> Iterator[tuple[str, int]]:
        answers = [_answer(item) for item in items]
        yield from answers

    return work


def slow_setup() -> Callable[[list[str]], Iterator[tuple[str, int]]]:
    """Takes 30 s to set up."""
    time.sleep(30)
    return echo()


def failing_setup() -> Callable[[list[str]], Iterator[tuple[str, int]]]:
    """Cannot set up."""
    raise RuntimeError("model 'xx' is not installed")
