"""What every command shares: the consoles, the one-line failure, the Kafka check."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from streams.records import ContentType, is_content_type
from streams.settings import Settings

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

#: The bundled sample articles (``newsstream demo``).
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "articles"


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with code 1."""
    err.print(f"error: {message}", highlight=False, markup=False)
    raise typer.Exit(1)


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
