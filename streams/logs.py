"""The worker's log lines: plain by default, one JSON object per line with ``NEWSSTREAM_LOG_FORMAT=json``.

The JSON lines carry ``stage``, ``article_id``, ``topic``, ``partition`` and
``offset`` where a log call gives them (``extra={...}``); ``stage`` also comes
from :data:`log_stage`, which the delivery layer sets for the batch a task
handles.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime
from typing import Any

from streams.settings import Settings

LOG_FIELDS = ("stage", "article_id", "topic", "partition", "offset")

#: The stage of the batch this task is handling (set by the delivery layer), for the log lines.
log_stage: contextvars.ContextVar[str | None] = contextvars.ContextVar("newsstream_log_stage", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601 with ms), ``level``, ``logger``, ``message``,
    the :data:`LOG_FIELDS` a record has (``stage`` also from :data:`log_stage`), ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in LOG_FIELDS:
            value = getattr(record, name, None)
            if value is None and name == "stage":
                value = log_stage.get()
            if value is not None:
                obj[name] = value
        if record.exc_info:
            obj["exception"] = self.formatException(record.exc_info)
        return json.dumps(obj, ensure_ascii=False, default=str)


PLAIN_FORMAT = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"


def configure_logging(settings: Settings, loglevel: str) -> None:
    """Set up the root logger in ``settings.log_format`` (plain or json) on stdout."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(loglevel.upper())


def faust_logging_config(settings: Settings) -> dict[str, Any] | None:
    """The ``logging_config`` a faust worker needs for ``settings.log_format`` (None: faust's own, plain).

    faust's worker sets up logging again when it starts (mode's
    ``setup_logging``, a handler named ``default``); this replaces that
    handler by one writing :class:`JsonFormatter` lines to stdout.
    """
    if settings.log_format != "json":
        return None
    return {
        "merge": True,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    }
