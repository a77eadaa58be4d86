"""Plugins the tests load through NEWSSTREAM_ENRICHERS and NEWSSTREAM_AGENTS (not installed as packages)."""

import ctypes
import os
import time

from streams.plugins import consumer, enricher


@enricher(fields={"explode_checked": "boolean"})
def explode(article):
    """Raise on any article whose title contains EXPLODE; mark the others."""
    if article.title and "EXPLODE" in article.title:
        raise RuntimeError(f"refusing to enrich {article.title!r}")
    return {"explode_checked": True}


@enricher(fields={"moody_checked": "boolean"})
def moody(article):
    """Raise while the file named by $MOODY_FLAG exists: a fault an operator fixes, then replays the letters."""
    if os.path.exists(os.environ["MOODY_FLAG"]):
        raise RuntimeError("moody refuses while its flag file is there")
    return {"moody_checked": True}


@enricher(fields={"persons": "integer"})
def clashing(article):
    """Declares a field the index already maps as keyword."""
    return {"persons": 1}


@enricher(fields={"score": "float"})
def sloppy(article):
    """Returns a field it did not declare."""
    return {"score": 0.5, "oops": True}


@consumer(topic="raw", name="ferry-check")
async def ferry_check(record, ctx):
    """Raise on a raw article containing REFUSE; send the others' source to $FERRY_CHECK_TOPIC."""
    content = record.content if isinstance(record.content, bytes) else record.content.encode()
    if b"REFUSE" in content:
        raise RuntimeError("ferry-check refuses this article")
    await ctx.send(os.environ["FERRY_CHECK_TOPIC"], content[:40])


@enricher(fields={"stall_checked": "boolean"})
def stall(article):
    """Sleep $STALL_SECONDS (default 600) on an article whose title contains STALL: a plugin that hangs."""
    if article.title and "STALL" in article.title:
        time.sleep(float(os.environ.get("STALL_SECONDS", "600")))
    return {"stall_checked": True}


@enricher(fields={"segfault_checked": "boolean"})
def segfault(article):
    """Die of a real SIGSEGV (a read of address 0) on an article whose title contains SEGFAULT."""
    if article.title and "SEGFAULT" in article.title:
        ctypes.string_at(0)
    return {"segfault_checked": True}


@consumer(topic="raw", name="plain-forward")
def plain_forward(record, ctx):
    """A plain (not async) consumer agent: sends the raw article's first words to $PLAIN_TOPIC, twice:
    once with the value returned by ctx.send ignored, once keyed."""
    content = record.content if isinstance(record.content, str) else record.content.decode()
    ctx.send(os.environ["PLAIN_TOPIC"], {"first": content.split()[0], "how": "plain"})
    ctx.send(os.environ["PLAIN_TOPIC"], content.split()[0], key="plain-key")


@consumer(topic="raw", name="async-unawaited")
async def async_unawaited(record, ctx):
    """An async agent that forgets to await ctx.send: the record is published all the same."""
    ctx.send(os.environ["PLAIN_TOPIC"], {"how": "async, not awaited"})


@consumer(topic="raw", name="one-argument")
def one_argument(record):
    """Cannot be called as f(record, ctx): refused when the worker loads it."""


@consumer(topic="raw", name="yields")
def yields(record, ctx):
    """A generator: what it yields would be lost, so it is refused at load."""
    yield record


@enricher(fields={"late": "keyword"})
async def async_enricher(article):
    """An async enricher: its coroutine would never run, so it is refused at load."""
    return {"late": "never"}
