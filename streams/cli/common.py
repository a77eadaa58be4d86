"""What every command shares: the consoles, the one-line failure, settings, help texts, the Kafka check."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperOption

from streams.records import ContentType, is_content_type
from streams.settings import ConfigurationError, Settings, env_name, get_settings

# markup on: every command escape()s the user text it prints (titles, highlights,
# file names, URLs: "[/]" in a hit crashed search with a MarkupError) or prints
# it with markup=False
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

#: The bundled sample articles (``newsstream demo``).
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "articles"


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with code 1."""
    err.print(f"error: {message}", highlight=False, markup=False)
    raise typer.Exit(1)


def load_settings() -> Settings:
    """Return the settings from the environment; fail in one line naming a variable that cannot be used."""
    try:
        return get_settings()
    except ConfigurationError as exc:
        fail(f"settings: {exc}")


def require_kafka(settings: Settings) -> None:
    """Fail in seconds, with one line naming the address and the cause, when Kafka cannot be used
    (unreachable, TLS, credentials or SASL mechanism refused: :func:`streams.kafka.check`)."""
    from streams import kafka
    from streams.settings import ConfigurationError

    try:
        kafka.check(settings)
    except (kafka.KafkaConnectionFailed, ConfigurationError) as exc:
        hint = " (try: newsstream services up)" if "unreachable" in str(exc) else ""
        fail(f"{exc}{hint}")


def content_type_option(content_type: str | None) -> ContentType | None:
    """Return ``--content-type`` (None, ``html`` or ``text``); fail on anything else."""
    if content_type is None or is_content_type(content_type):
        return content_type
    fail(f"--content-type must be html or text, not {content_type!r}")


# ---------------------------------------------------------------- help texts


def uses(*fields: str) -> str:
    """A command's epilog: the ``NEWSSTREAM_*`` variables it reads, with their defaults.

    ``fields`` are settings field names (``kafka_bootstrap``); the defaults
    shown are the documented ones, not the current environment's.
    """
    parts = []
    for name in fields:
        info = Settings.model_fields[name]
        default = "" if info.default_factory is not None or info.default is None else f" (default {info.default})"
        parts.append(f"{env_name(name)}{default}")
    # \b keeps click/typer from re-wrapping the block; one variable per line reads best
    return "\b\nSettings read from the environment (see the README):\n" + "\n".join(f"  {p}" for p in parts)


def _argument_usage(self: TyperArgument) -> str:
    name = self.metavar or (self.name or "").upper()
    if self.nargs != 1:
        name += "..."
    return name if self.required else f"[{name}]"


def _option_type(self: TyperOption, ctx: Any) -> str | None:
    if self.is_flag or self.count:
        return None
    if self.metavar is not None:
        return self.metavar
    # typer 0.29's own label (<float>, <int>, <list[str]>) without its brackets: FLOAT, INT, LIST[STR]
    return self.display_type(ctx).strip("<>").upper()


def readable_help() -> None:
    """Make typer 0.29's help read like a command's help, not like Python's type hints.

    typer 0.29 prints ``<bool>`` after every flag, ``<str>``/``<list[Path]>``
    after options and arguments, and ``{paths}...`` in the usage line; with
    this, flags show no value, options their ``metavar`` (or ``TEXT``,
    ``INTEGER``), and arguments their name in capitals (``PATHS...``).
    ``tests/test_cli.py`` checks every command's help for the old forms.
    """
    TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]
    TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]
    TyperArgument._rich_display_name = lambda self: _argument_usage(self).strip("[]")  # type: ignore[method-assign]
    TyperOption.display_type_rich = _option_type  # type: ignore[method-assign]


def typer_app(help: str, **kw: Any) -> typer.Typer:
    """A command group with the house's help settings (no shell-completion options: the README's commands are what users need)."""
    # never the locals of a failing frame in a traceback: they may hold a password
    return typer.Typer(help=help, no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False, **kw)
