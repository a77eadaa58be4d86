"""Plugins: enrichers and consumer agents, found through Python entry points.

Two extension points, both discovered in installed distributions through
entry points (faust resolves ``rocksdb://`` stores the same lazy way), or
named as ``"module:attribute"`` strings in the settings
``NEWSSTREAM_ENRICHERS`` / ``NEWSSTREAM_AGENTS`` (JSON lists) for code that
is not packaged:

* **enricher** (group ``newsstream.enrichers``): a function decorated with
  :func:`enricher`, or a class with ``fields``, an optional ``setup()`` and
  ``__call__``; it takes the :class:`~streams.records.EnrichedArticle` and
  returns a dict of extra fields. It runs inside the enrich stage; the fields
  and types it declares are added to the index mapping when the worker
  starts, and a clash with a mapped field stops the start
  (:class:`~indexers.elasticsearch.template.MappingClash`).
* **consumer agent** (group ``newsstream.agents``): a function decorated
  with :func:`consumer`, called once per record of its topic, in its own
  consumer group and its own worker process; ``newsstream worker`` starts it
  beside the built-in agents, ``newsstream worker --only NAME`` alone.

A plugin that raises does not stop anything: the message goes to the
dead-letter topic with the plugin's name as its stage, and the agents go on.
How a consumer agent runs (its context, ``ctx.send``) is :mod:`streams.plugins.running`'s.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from streams.records import EnrichedArticle
from streams.settings import Settings, get_settings
from streams.topics import STAGE_INPUT, STAGE_OUTPUT, resolve, topic_names

log = logging.getLogger(__name__)

ENRICHERS_GROUP = "newsstream.enrichers"
AGENTS_GROUP = "newsstream.agents"

#: Field types an enricher may declare by name; anything else must be a full
#: Elasticsearch mapping dict such as ``{"type": "scaled_float", "scaling_factor": 100}``.
FIELD_TYPES = {"keyword", "text", "integer", "long", "float", "double", "boolean", "date", "object"}

BUILTIN_AGENTS = tuple(STAGE_INPUT)


class PluginError(RuntimeError):
    """A plugin cannot be loaded or is malformed; the message names it."""


# ---------------------------------------------------------------- decorators


def enricher(fields: dict[str, str | dict], name: str | None = None) -> Callable:
    """Mark a function ``f(article) -> dict`` as an enricher adding ``fields``.

    ``fields`` maps each field name to a type in :data:`FIELD_TYPES` or to a
    mapping dict. The function receives the enriched record and returns a
    dict whose keys are among ``fields``.
    """

    def mark(fn: Callable) -> Callable:
        fn.newsstream_fields = dict(fields)  # type: ignore[attr-defined]
        fn.newsstream_name = name or fn.__name__  # type: ignore[attr-defined]
        return fn

    return mark


def consumer(topic: str = "enriched", group: str | None = None, name: str | None = None) -> Callable:
    """Mark ``f(record, ctx)`` (plain or ``async``) as a consumer agent of ``topic``.

    ``topic`` is ``raw``, ``parsed``, ``enriched`` or ``dlq`` (our topics, as
    configured) or any other topic name (records passed as bytes). ``group``
    is the consumer group (default ``newsstream-<name>``). ``ctx.send(topic,
    value, key=None)`` publishes to any topic, from a plain function as from
    an async one (``await ctx.send(...)`` there publishes at once). A plain
    function runs in a thread, so it may block. A function that cannot be
    called as ``f(record, ctx)``, or a generator, is refused when the worker
    loads it (:class:`PluginError`).
    """

    def mark(fn: Callable) -> Callable:
        fn.newsstream_consumer = {"topic": topic, "group": group, "name": name or fn.__name__}  # type: ignore[attr-defined]
        return fn

    return mark


# ---------------------------------------------------------------- loaded plugins


@dataclass
class Enricher:
    """A loaded enricher: its name, where it came from, declared fields, callable."""

    name: str
    origin: str
    fields: dict[str, dict[str, Any]]
    func: Callable[[EnrichedArticle], dict]
    setup: Callable[[], Any] | None = None

    def mapping(self) -> dict[str, dict[str, Any]]:
        """Return ``{field: Elasticsearch mapping}`` of the declared fields."""
        return self.fields

    def run(self, article: EnrichedArticle) -> dict[str, Any]:
        """Call the enricher; raises :class:`PluginError` if it returns undeclared fields."""
        result = self.func(article) or {}
        if not isinstance(result, dict):
            raise PluginError(f"enricher {self.name} returned {type(result).__name__}, not a dict")
        undeclared = set(result) - set(self.fields)
        if undeclared:
            raise PluginError(f"enricher {self.name} returned undeclared field(s) {sorted(undeclared)}")
        return result


@dataclass
class ConsumerAgent:
    """A loaded consumer agent: name, origin, topic key, consumer group, handler."""

    name: str
    origin: str
    topic: str
    group: str
    handler: Callable
    is_async: bool = field(default=False)

    def topic_name(self, settings: Settings) -> str:
        return resolve(settings, self.topic)


def _resolve(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise PluginError(f"plugin {spec!r} is not of the form 'module:attribute'")
    try:
        obj = importlib.import_module(module)
    except ImportError as exc:
        raise PluginError(f"plugin {spec!r}: cannot import {module!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise PluginError(f"plugin {spec!r}: {module!r} has no {attr!r}") from exc
    return obj


def _normalise_fields(name: str, fields: dict) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for fname, ftype in fields.items():
        if isinstance(ftype, dict):
            out[fname] = ftype
        elif ftype in FIELD_TYPES:
            out[fname] = {"type": ftype}
        else:
            raise PluginError(
                f"enricher {name}: field {fname!r} has unknown type {ftype!r} (one of {sorted(FIELD_TYPES)})"
            )
    return out


def _signature(obj: Any) -> str:
    try:
        return f"{getattr(obj, '__name__', type(obj).__name__)}{inspect.signature(obj)}"
    except (TypeError, ValueError):
        return repr(obj)


def _takes(obj: Any, n: int) -> bool:
    """True when ``obj`` can be called with ``n`` positional arguments."""
    try:
        inspect.signature(obj).bind(*range(n))
        return True
    except TypeError:
        return False
    except ValueError:  # no signature (a builtin): let the call decide
        return True


def _is_async(obj: Any) -> bool:
    """True for an ``async def`` function, or an object whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(getattr(obj, "__call__", None))  # noqa: B004


def _is_generator(obj: Any) -> bool:
    call = getattr(obj, "__call__", None)  # noqa: B004
    return any(f(x) for f in (inspect.isgeneratorfunction, inspect.isasyncgenfunction) for x in (obj, call))


def _as_enricher(obj: Any, name: str, origin: str) -> Enricher:
    if inspect.isclass(obj):
        obj = obj()
    fields = getattr(obj, "newsstream_fields", None) or getattr(obj, "fields", None)
    if not isinstance(fields, dict) or not callable(obj):
        raise PluginError(f"enricher {name} from {origin} must be callable and declare its fields")
    name = getattr(obj, "newsstream_name", None) or name
    if _is_async(obj) or _is_generator(obj):
        kind = "an async function" if _is_async(obj) else "a generator"
        raise PluginError(
            f"enricher {name} from {origin} is {kind} ({_signature(obj)}): an enricher is a plain function "
            "f(article) that returns a dict of its fields"
        )
    if not _takes(obj, 1):
        raise PluginError(
            f"enricher {name} from {origin} cannot be called as f(article): its signature is {_signature(obj)}"
        )
    return Enricher(name, origin, _normalise_fields(name, fields), obj, getattr(obj, "setup", None))


def _as_consumer(obj: Any, name: str, origin: str, settings: Settings) -> ConsumerAgent:
    meta = getattr(obj, "newsstream_consumer", None)
    if not meta or not callable(obj):
        raise PluginError(f"consumer agent {name} from {origin} must be decorated with streams.plugins.consumer")
    name = meta["name"] or name
    if _is_generator(obj):
        raise PluginError(
            f"consumer agent {name} from {origin} is a generator ({_signature(obj)}): what it yields would be lost; "
            "write a plain or async function f(record, ctx) and publish with ctx.send"
        )
    if not _takes(obj, 2):
        raise PluginError(
            f"consumer agent {name} from {origin} cannot be called as f(record, ctx): "
            f"its signature is {_signature(obj)}"
        )
    group = meta["group"] or f"{settings.app_id}-{name}"
    return ConsumerAgent(name, origin, meta["topic"], group, obj, _is_async(obj))


def _found(group: str, specs: list[str], kind: str) -> Iterator[tuple[Any, str, str]]:
    """Yield ``(object, name, origin)`` of every plugin of an entry-point ``group``, then of ``specs``."""
    for ep in entry_points(group=group):
        dist = getattr(ep, "dist", None)
        origin = f"{dist.name} {dist.version}" if dist else ep.value
        try:
            obj = ep.load()
        except Exception as exc:
            raise PluginError(f"{kind} {ep.name} from {origin}: cannot load {ep.value}: {exc}") from exc
        yield obj, ep.name, origin
    for spec in specs:
        yield _resolve(spec), spec.rpartition(":")[2], f"setting {spec}"


def load_enrichers(settings: Settings | None = None, setup: bool = True) -> list[Enricher]:
    """Load every enricher (entry points, then ``settings.enrichers``) and call its ``setup()``
    (not with ``setup=False``: to know their names, as ``dlq`` does, no model need be loaded).

    Raises:
        PluginError: a plugin cannot be imported or is malformed.
    """
    settings = settings or get_settings()
    found = [_as_enricher(*p) for p in _found(ENRICHERS_GROUP, settings.enrichers, "enricher")]
    for e in found:
        if setup and e.setup:
            e.setup()
    return found


def load_consumer_agents(settings: Settings) -> list[ConsumerAgent]:
    """Load every consumer agent (entry points, then ``settings.agents``)."""
    found = [
        _as_consumer(obj, name, origin, settings)
        for obj, name, origin in _found(AGENTS_GROUP, settings.agents, "consumer agent")
    ]
    names = [a.name for a in found]
    clashes = {n for n in names if names.count(n) > 1 or n in BUILTIN_AGENTS}
    if clashes:
        raise PluginError(f"consumer agent name(s) used twice or by a built-in agent: {sorted(clashes)}")
    return found


def describe(settings: Settings) -> list[dict[str, str]]:
    """Rows for ``newsstream agents list``: kind, name, origin, topics, consumer group."""
    group = settings.app_id
    names = topic_names(settings)
    rows = []
    for stage, source in STAGE_INPUT.items():
        target = names[STAGE_OUTPUT[stage]] if stage in STAGE_OUTPUT else f"es:{settings.index_alias}"
        topics = f"{names[source]} -> {target}"
        rows.append(
            {"kind": "agent", "name": stage, "origin": "newsstream (built-in)", "topics": topics, "group": group}
        )
    for e in load_enrichers(settings):
        fields = ", ".join(f"{k}:{v.get('type', '?')}" for k, v in e.fields.items())
        rows.append(
            {
                "kind": "enricher",
                "name": e.name,
                "origin": e.origin,
                "topics": f"in enrich, adds {fields}",
                "group": group,
            }
        )
    for a in load_consumer_agents(settings):
        rows.append(
            {"kind": "agent", "name": a.name, "origin": a.origin, "topics": a.topic_name(settings), "group": a.group}
        )
    return rows
