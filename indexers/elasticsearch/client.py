"""The one place an Elasticsearch client is built from settings, and the start-up check.

Every client newsstream opens, sync or async, in the worker, the CLI, the
local services' health check, the benchmarks and the tests, comes from
:func:`sync_client` or :func:`async_client`, so the way to reach the cluster
is decided here and only here (:func:`connection_options`): the URL or an
Elastic Cloud ``cloud_id``; an API key (``id:key`` or the encoded form Kibana
shows) or a user and password; TLS trusting a CA file, the system's CAs or
one certificate by its SHA-256 fingerprint; a client certificate. Kibana's
saved-objects import sends the same credentials (:func:`authorization_header`,
:func:`kibana_ssl_context`).

:func:`check` asks the cluster once and raises
:class:`ElasticsearchConnectionFailed` with one line naming the address and
the cause (unreachable, untrusted certificate, credentials refused, not
allowed); :func:`explain` turns a client's exception into that line for the
commands that do not check first (``newsstream search``).

A fingerprint is checked against every certificate of the chain the cluster
presents (Elasticsearch prints its CA's at first start). elasticsearch-py's
sync client does that itself; its async client (aiohttp) compares only the
server's own certificate, so :func:`async_client` fetches the chain once,
takes the certificate with that fingerprint as its only trust anchor and
verifies the chain against it (:func:`_pinned_context`).
"""

from __future__ import annotations

import _ssl  # the certificate chain of a TLS connection before Python 3.13 (as elastic-transport reads it)
import base64
import hashlib
import logging
import re
import socket
import ssl
import time
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TlsError
from elastic_transport.client_utils import parse_cloud_id
from elasticsearch import (
    ApiError,
    AsyncElasticsearch,
    AuthenticationException,
    AuthorizationException,
    Elasticsearch,
    UnsupportedProductError,
)

from streams.settings import Settings, env_name


class ElasticsearchConnectionFailed(RuntimeError):
    """Elasticsearch cannot be used with these settings; the message is one line naming the address and the cause."""


def address(settings: Settings) -> str:
    """Where the settings point, for messages: the URL, or the Elastic Cloud deployment and its address."""
    if settings.elasticsearch_cloud_id:
        try:
            cloud = parse_cloud_id(settings.elasticsearch_cloud_id)
        except ValueError:
            return "Elastic Cloud (an unreadable cloud id)"
        host, port = cloud.es_address or ("?", 443)
        return f"Elastic Cloud deployment {cloud.cluster_name!r} (https://{host}:{port or 443})"
    return settings.elasticsearch_url


def _host_port(settings: Settings) -> tuple[str, int]:
    if settings.elasticsearch_cloud_id:
        es_address = parse_cloud_id(settings.elasticsearch_cloud_id).es_address
        if es_address is None:
            raise ElasticsearchConnectionFailed(f"{env_name('elasticsearch_cloud_id')} names no Elasticsearch")
        return es_address[0], es_address[1] or 443
    url = urls(settings)[0]  # the first node: a pinned certificate is the cluster's, whichever node shows it
    rest = url.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        return rest.strip("[]"), 443 if url.lower().startswith("https") else 80
    return host.strip("[]"), int(port)


def _api_key(settings: Settings) -> str | tuple[str, str] | None:
    """The API key as elasticsearch-py takes it: ``(id, key)`` from ``id:key``, else the encoded form as given."""
    if settings.elasticsearch_api_key is None:
        return None
    value = settings.elasticsearch_api_key.get_secret_value().strip()
    if ":" in value:  # base64 has no colon: this is the id:key pair
        key_id, _, key = value.partition(":")
        return key_id, key
    return value


def _credentials(settings: Settings) -> dict[str, Any]:
    api_key = _api_key(settings)
    if api_key is not None:
        return {"api_key": api_key}
    if settings.elasticsearch_username and settings.elasticsearch_password:
        return {"basic_auth": (settings.elasticsearch_username, settings.elasticsearch_password.get_secret_value())}
    return {}


def connection_options(settings: Settings) -> dict[str, Any]:
    """Return the keyword arguments that say where the cluster is and how to log in.

    Shape: ``{"hosts": [url, ...]}`` (``settings.elasticsearch_url``, one URL
    or several nodes' comma-separated: the client sends each request to a live
    one, so losing a node loses no client) or ``{"cloud_id": str}``;
    ``api_key`` (``(id, key)`` or the encoded str) or ``basic_auth`` (``(user,
    password)``); ``ca_certs``, ``ssl_assert_fingerprint``, ``client_cert``
    and ``client_key``, ``verify_certs=False``, each when set.
    """
    options: dict[str, Any] = (
        {"cloud_id": settings.elasticsearch_cloud_id} if settings.elasticsearch_cloud_id else {"hosts": urls(settings)}
    )
    options |= _credentials(settings)
    if settings.elasticsearch_ca_file:
        options["ca_certs"] = str(settings.elasticsearch_ca_file)
    if settings.elasticsearch_ca_fingerprint:
        options["ssl_assert_fingerprint"] = settings.elasticsearch_ca_fingerprint
    if settings.elasticsearch_client_cert:
        options["client_cert"] = str(settings.elasticsearch_client_cert)
        if settings.elasticsearch_client_key:
            options["client_key"] = str(settings.elasticsearch_client_key)
    if not settings.elasticsearch_verify_certs:
        options["verify_certs"] = False
    return options


def urls(settings: Settings) -> list[str]:
    """Return the node URLs of ``settings.elasticsearch_url`` (comma-separated) as a list."""
    return [u.strip() for u in settings.elasticsearch_url.split(",") if u.strip()]


def sync_client(settings: Settings, *, request_timeout: float = 30.0, **options: Any) -> Elasticsearch:
    """Return a sync client of the cluster in ``settings``.

    ``request_timeout`` is in seconds; ``options`` are further
    ``Elasticsearch(...)`` keyword arguments (``max_retries`` ...).
    """
    return Elasticsearch(**connection_options(settings), request_timeout=request_timeout, **options)


def async_client(settings: Settings, *, request_timeout: float = 60.0, **options: Any) -> AsyncElasticsearch:
    """Return an async client of the cluster in ``settings`` (see :func:`sync_client`).

    With ``elasticsearch_ca_fingerprint`` set, the first call in a process
    connects once to fetch the cluster's chain (:func:`_pinned_context`).

    Raises:
        ElasticsearchConnectionFailed: a fingerprint is set and the chain
            cannot be fetched or holds no certificate with it.
    """
    connection = connection_options(settings)
    if settings.elasticsearch_ca_fingerprint:
        for name in ("ssl_assert_fingerprint", "ca_certs", "client_cert", "client_key", "verify_certs"):
            connection.pop(name, None)
        connection["ssl_context"] = _pinned_context(settings, settings.connect_timeout_seconds)
    return AsyncElasticsearch(**connection, request_timeout=request_timeout, **options)


# ---------------------------------------------------------------- a certificate trusted by its fingerprint

#: ``(host, port, fingerprint) -> DER`` of the certificate found in the chain: fetched once per process.
_PINNED: dict[tuple[str, int, str], bytes] = {}


def _peer_chain(host: str, port: int, timeout: float) -> list[bytes]:
    """The certificates (DER) the server at ``host:port`` presents, unverified, leaf first."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to read the chain; nothing is sent over this connection
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        if hasattr(tls, "get_unverified_chain"):  # Python 3.13+
            return [bytes(c) for c in tls.get_unverified_chain()]
        sslobj = tls._sslobj  # type: ignore[attr-defined]
        return [c.public_bytes(_ssl.ENCODING_DER) for c in sslobj.get_unverified_chain()]


def _pinned_context(settings: Settings, timeout: float) -> ssl.SSLContext:
    """A TLS context whose only trust anchor is the certificate of the cluster's chain with the fingerprint.

    The chain is verified against it (signatures, validity; OpenSSL's partial
    chain lets a leaf or intermediate be the anchor); host names are not
    checked, as a fingerprint names the certificate itself.
    """
    fingerprint = settings.elasticsearch_ca_fingerprint or ""
    host, port = _host_port(settings)
    key = (host, port, fingerprint)
    if key not in _PINNED:
        where = f"Elasticsearch at {address(settings)}"
        try:
            chain = _peer_chain(host, port, timeout)
        except ssl.SSLError as exc:
            raise ElasticsearchConnectionFailed(
                f"{where}: TLS handshake failed ({exc.reason or exc}); is the address https://?"
            ) from None
        except OSError as exc:
            raise ElasticsearchConnectionFailed(f"{where}: unreachable: {exc.strerror or exc}") from None
        found = [der for der in chain if hashlib.sha256(der).hexdigest() == fingerprint]
        if not found:
            got = ", ".join(hashlib.sha256(der).hexdigest() for der in chain)
            raise ElasticsearchConnectionFailed(
                f"{where}: no certificate the cluster presents has the SHA-256 fingerprint of "
                f"{env_name('elasticsearch_ca_fingerprint')} (it presents {got})"
            )
        _PINNED[key] = found[0]
    context = ssl.create_default_context(cadata=_PINNED[key])
    context.check_hostname = False
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    if settings.elasticsearch_client_cert:
        key_file = settings.elasticsearch_client_key
        context.load_cert_chain(str(settings.elasticsearch_client_cert), str(key_file) if key_file else None)
    return context


# ---------------------------------------------------------------- Kibana


def authorization_header(settings: Settings) -> str | None:
    """The ``Authorization`` header of the settings' credentials (``ApiKey ...`` or ``Basic ...``), or None.

    For Kibana's HTTP API, which takes the same credentials as Elasticsearch.
    """
    api_key = _api_key(settings)
    if isinstance(api_key, tuple):
        return "ApiKey " + base64.b64encode(f"{api_key[0]}:{api_key[1]}".encode()).decode()
    if api_key is not None:
        return f"ApiKey {api_key}"
    if settings.elasticsearch_username and settings.elasticsearch_password:
        pair = f"{settings.elasticsearch_username}:{settings.elasticsearch_password.get_secret_value()}"
        return "Basic " + base64.b64encode(pair.encode()).decode()
    return None


def kibana_ssl_context(settings: Settings) -> ssl.SSLContext:
    """TLS for an ``https://`` Kibana: the system's CAs plus ``elasticsearch_ca_file`` (one CA often signs
    both), the client certificate, and no verification when ``elasticsearch_verify_certs`` is off."""
    context = ssl.create_default_context()
    if settings.elasticsearch_ca_file:
        context.load_verify_locations(cafile=str(settings.elasticsearch_ca_file))
    if not settings.elasticsearch_verify_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.elasticsearch_client_cert:
        key_file = settings.elasticsearch_client_key
        context.load_cert_chain(str(settings.elasticsearch_client_cert), str(key_file) if key_file else None)
    return context


# ---------------------------------------------------------------- failures in one line


def _reason(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        reason = error.get("reason") or error.get("type") or ""
    else:
        reason = str(error or exc.body or exc.message or "")
        title = re.search(r"<title>(.*?)</title>", reason, re.S | re.I)  # a proxy's HTML page
        reason = title.group(1) if title else reason
    return " ".join(str(reason).split())[:300]


def _login(settings: Settings) -> tuple[str, str]:
    """``(who, which settings)`` of the credentials in use, for messages."""
    if settings.elasticsearch_api_key is not None:
        return "the API key", env_name("elasticsearch_api_key")
    if settings.elasticsearch_username:
        return (
            f"user {settings.elasticsearch_username!r}",
            f"{env_name('elasticsearch_username')} and {env_name('elasticsearch_password')}",
        )
    return "", ""


def explain(settings: Settings, exc: BaseException) -> tuple[bool, str] | None:
    """``(final, one line)`` for an exception of an Elasticsearch client, or None for one it does not know.

    ``final`` is False only for what waiting may cure (unreachable, timed
    out). The line names the address and the settings to look at, never a secret.
    """
    where = f"Elasticsearch at {address(settings)}"
    who, which = _login(settings)
    if isinstance(exc, AuthenticationException):
        if not who:
            return True, (
                f"{where}: the cluster requires credentials (HTTP 401: {_reason(exc)}); set "
                f"{env_name('elasticsearch_api_key')}, or {env_name('elasticsearch_username')} and "
                f"{env_name('elasticsearch_password')}"
            )
        return True, f"{where}: {who} was refused (HTTP 401: {_reason(exc)}); check {which}"
    if isinstance(exc, AuthorizationException):
        return True, f"{where}: {who or 'anonymous access'} is not allowed this (HTTP 403: {_reason(exc)})"
    if isinstance(exc, UnsupportedProductError):
        return True, f"{where}: the server is not Elasticsearch ({' '.join(exc.message.split())[:200]})"
    if isinstance(exc, ApiError) and exc.meta.status in (408, 429, 502, 503, 504):
        # busy, starting, or a health request that timed out waiting for a status: waiting may cure it
        return False, f"{where}: HTTP {exc.meta.status}: {_reason(exc) or 'not ready'}"
    if isinstance(exc, ApiError):
        reason = _reason(exc)
        if "plain HTTP request was sent to HTTPS port" in str(exc.body):
            reason += "; the address takes https://"
        return True, f"{where}: HTTP {exc.meta.status}: {reason}"
    if isinstance(exc, TlsError):
        message = " ".join(str(exc.message).split())
        if "CERTIFICATE_VERIFY_FAILED" in message:
            detail = message.split("certificate verify failed:")[-1].split("(_ssl")[0].strip(" :)'\"]")
            if "mismatch" in detail.lower():
                return True, f"{where}: the cluster's certificate is not valid for this host name ({detail})"
            return True, (
                f"{where}: the cluster's certificate is not trusted ({detail}); set "
                f"{env_name('elasticsearch_ca_file')} to its CA (Elasticsearch's http_ca.crt) or "
                f"{env_name('elasticsearch_ca_fingerprint')}"
            )
        if "Fingerprints did not match" in message:
            presented = message.split("got ", 1)[-1].rstrip(".").replace('"', "")
            return True, (
                f"{where}: no certificate the cluster presents has the SHA-256 fingerprint of "
                f"{env_name('elasticsearch_ca_fingerprint')} (it presents {presented})"
            )
        if "WRONG_VERSION_NUMBER" in message or "record layer" in message.lower():
            return True, f"{where}: the address does not speak TLS ({message}); is it http://?"
        return True, f"{where}: TLS failed ({message})"
    if isinstance(exc, ConnectionTimeout):
        return False, f"{where}: unreachable: no answer in time"
    if isinstance(exc, TransportConnectionError):
        message = " ".join(str(exc.message).split())
        detail = message.split("Failed to establish a new connection: ")[-1]
        return False, f"{where}: unreachable: {detail[:300]}"
    if isinstance(exc, ElasticsearchConnectionFailed):
        return True, str(exc)
    return None


def check(settings: Settings, timeout: float | None = None) -> None:
    """Ask the cluster for its health once (any status); return when it answers.

    Unreachable addresses are asked again every second for ``timeout``
    seconds (default ``settings.connect_timeout_seconds``); refused
    credentials, an untrusted certificate or any other answer that waiting
    cannot change fail at once. With a fingerprint, also fetches the chain
    the async client trusts (:func:`async_client`).

    Raises:
        ElasticsearchConnectionFailed: one line naming the address, the cause
            and the settings to look at; never a secret.
    """
    timeout = settings.connect_timeout_seconds if timeout is None else timeout
    deadline = time.monotonic() + timeout
    client = sync_client(settings, request_timeout=max(1.0, timeout), max_retries=0)
    # the client logs each failed attempt ("Node ... has failed"); the check says why in one line
    quiet = logging.getLogger("elastic_transport")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        while True:
            try:
                client.cluster.health(timeout="1s")
                break
            except Exception as exc:  # explained below, or re-raised as it is
                explained = explain(settings, exc)
                if explained is None:
                    raise
                final, message = explained
                if final:
                    raise ElasticsearchConnectionFailed(message) from None
                if time.monotonic() >= deadline:
                    raise ElasticsearchConnectionFailed(f"{message} (tried for {timeout:.0f} s)") from None
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    finally:
        quiet.setLevel(level)
        client.close()
    if settings.elasticsearch_ca_fingerprint:
        _pinned_context(settings, timeout)


def healthy(settings: Settings, timeout: float = 5.0) -> bool:
    """Return True when the cluster answers and is yellow or green within ``timeout`` seconds."""
    client = sync_client(settings, request_timeout=timeout + 2, max_retries=0)
    try:
        client.cluster.health(wait_for_status="yellow", timeout=f"{max(1, int(timeout))}s")
        return True
    except Exception:  # unreachable, refused, or still red: not healthy yet
        return False
    finally:
        client.close()
