"""One-line messages for settings that do not validate (:class:`streams.settings.Settings` raises them as
``ConfigurationError``): each ``NEWSSTREAM_*`` variable at fault, what was wrong and what is expected, in
words taken from the field's type, bounds, default and description; never a value given (a path excepted),
since pydantic's own text would echo every value, secrets included."""

from __future__ import annotations

import re
import typing
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from pydantic.fields import FieldInfo

ENV_PREFIX = "NEWSSTREAM_"


def env_name(field: str) -> str:
    """``kafka_password`` -> ``NEWSSTREAM_KAFKA_PASSWORD``."""
    return ENV_PREFIX + field.upper()


_PATH_FIELDS = frozenset(
    {
        "kafka_ca_file",
        "kafka_client_cert",
        "kafka_client_key",
        "elasticsearch_ca_file",
        "elasticsearch_client_cert",
        "elasticsearch_client_key",
    }
)


def expected(field: str, fields: Mapping[str, FieldInfo], secrets: Collection[str] = ()) -> str:
    """What a field takes, in words: its type, bounds, default and the first clause of its description."""
    info = fields.get(field)
    if info is None:
        return ""
    kind = info.annotation
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is list:
        what = 'a JSON list of "module:attribute" strings, e.g. \'["mymodule:sentiment"]\''
    elif kind is int:
        what = "a whole number"
    elif kind is float:
        what = "a number"
    elif kind is bool:
        what = "true or false"
    elif kind is Path or Path in args:
        what = "a path"
    elif typing.get_origin(kind) is Literal:
        what = "one of " + ", ".join(map(str, typing.get_args(kind)))
    else:
        what = "text"
    for meta in info.metadata:
        for name, words in (("ge", "at least"), ("gt", "above"), ("le", "at most"), ("lt", "below")):
            bound = getattr(meta, name, None)
            if bound is not None:
                what += f" {words} {bound}"
    if info.default_factory is None and info.default is not None and field not in secrets:
        what += f", default {info.default}"
    about = re.split(r";|\s\(", info.description or "", maxsplit=1)[0].strip()
    return f"{what}: {about}" if about else what


def describe(error: ValidationError, fields: Mapping[str, FieldInfo], secrets: Collection[str] = ()) -> str:
    """One line for a settings validation error: each variable, what is wrong and what is expected,
    never a value given (a path excepted)."""
    parts = []
    for e in error.errors(include_url=False):
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        loc = [str(x) for x in e.get("loc", ()) if isinstance(x, str)]
        if loc and loc[0] in fields:
            name = loc[0]
            # a file setting is named with its path (never a secret); nothing else echoes the value given
            path = f" ({e['input']})" if name in _PATH_FIELDS and isinstance(e.get("input"), str | Path) else ""
            what = expected(name, fields, secrets)
            parts.append(f"{env_name(name)}: {msg}{path}" + (f" (expected {what})" if what else ""))
        else:
            parts.append(msg)
    return "; ".join(parts)


def describe_source(error: Exception, fields: Mapping[str, FieldInfo], secrets: Collection[str] = ()) -> str:
    """pydantic-settings' error for a list variable that is not JSON (it names only the field)."""
    m = re.search(r'field "([^"]+)"', str(error))
    field = m.group(1) if m else "?"
    cause = error.__cause__
    why = f"not JSON ({cause})" if cause else "not JSON"
    return f"{env_name(field)}: {why} (expected {expected(field, fields, secrets)})"


def contradictions(settings: Any) -> list[str]:
    """The settings (a :class:`streams.settings.Settings`) that would be ignored or cannot work together,
    each a phrase naming the variables (never a value)."""
    problems = []
    sasl = settings.kafka_security_protocol.startswith("SASL_")
    tls = settings.kafka_security_protocol in ("SSL", "SASL_SSL")
    protocol = f"{env_name('kafka_security_protocol')}={settings.kafka_security_protocol}"
    if sasl and not (settings.kafka_username and settings.kafka_password):
        problems.append(f"{protocol} needs {env_name('kafka_username')} and {env_name('kafka_password')}")
    if not sasl and (settings.kafka_username or settings.kafka_password):
        problems.append(
            f"{env_name('kafka_username')}/{env_name('kafka_password')} are set but {protocol} uses no SASL "
            "(SASL_SSL or SASL_PLAINTEXT does)"
        )
    tls_files = [n for n in ("kafka_ca_file", "kafka_client_cert", "kafka_client_key") if getattr(settings, n)]
    if tls_files and not tls:
        problems.append(f"{', '.join(map(env_name, tls_files))} set but {protocol} uses no TLS (SSL or SASL_SSL does)")
    for prefix in ("kafka", "elasticsearch"):
        if getattr(settings, f"{prefix}_client_key") and not getattr(settings, f"{prefix}_client_cert"):
            problems.append(f"{env_name(prefix + '_client_key')} needs {env_name(prefix + '_client_cert')}")
    if settings.elasticsearch_api_key and (settings.elasticsearch_username or settings.elasticsearch_password):
        problems.append(
            f"{env_name('elasticsearch_api_key')} and {env_name('elasticsearch_username')}/"
            f"{env_name('elasticsearch_password')} are both set: choose one way to log in"
        )
    elif bool(settings.elasticsearch_username) != bool(settings.elasticsearch_password):
        problems.append(f"{env_name('elasticsearch_username')} and {env_name('elasticsearch_password')} go together")
    if settings.elasticsearch_ca_file and settings.elasticsearch_ca_fingerprint:
        problems.append(
            f"{env_name('elasticsearch_ca_file')} and {env_name('elasticsearch_ca_fingerprint')} are both set: "
            "choose one way to trust the cluster"
        )
    nodes = [u.strip() for u in settings.elasticsearch_url.split(",") if u.strip()] or [""]
    if any("@" in u.split("://", 1)[-1].split("/", 1)[0] for u in nodes):
        # a URL is printed in messages and the settings' repr: credentials never go in it
        problems.append(
            f"{env_name('elasticsearch_url')} holds a user name or password: give them in "
            f"{env_name('elasticsearch_username')} and {env_name('elasticsearch_password')} instead"
        )
    if settings.elasticsearch_cloud_id and "elasticsearch_url" in settings.model_fields_set:
        problems.append(
            f"{env_name('elasticsearch_cloud_id')} and {env_name('elasticsearch_url')} are both set: set one"
        )
    es_tls = [
        n
        for n in ("elasticsearch_ca_file", "elasticsearch_ca_fingerprint", "elasticsearch_client_cert")
        if getattr(settings, n)
    ]
    if es_tls and not settings.elasticsearch_cloud_id and not all(u.lower().startswith("https://") for u in nodes):
        problems.append(f"{', '.join(map(env_name, es_tls))} set but {env_name('elasticsearch_url')} is not https://")
    return problems
