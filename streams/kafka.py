"""The one place Kafka clients are built from settings: kafka-python's, the faust app's and the start-up check.

Every producer, admin client and consumer newsstream opens with kafka-python
(publishing, topic creation, reading and replaying dead letters, the local
health check, the benchmarks and the tests) comes from :func:`producer`,
:func:`admin` or :func:`consumer`, and the faust app (aiokafka) takes its
broker options from :func:`faust_broker_options`. How to reach the brokers
and log in (bootstrap servers, ``security_protocol``, the TLS context of
:func:`ssl_context`, SASL PLAIN or SCRAM) is decided here and only here, so
every client connects the same way.

:func:`check` connects to the brokers once, as the worker's aiokafka does,
and raises :class:`KafkaConnectionFailed` with one line that names the
address and the cause (unreachable, untrusted certificate, a client
certificate required, credentials or SASL mechanism refused). The worker and
the CLI call it before anything else, so a wrong set-up fails in seconds
rather than in a client's silent reconnect loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from typing import Any

import faust
from aiokafka import errors as aiokafka_errors
from aiokafka.conn import create_conn
from aiokafka.protocol.admin import SaslHandShakeRequest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from streams.settings import ConfigurationError, Settings, env_name

#: Bytes a produced message may carry beyond ``settings.max_message_bytes``
#: (record headers and framing); topics and clients are sized with it.
MESSAGE_OVERHEAD = 64 * 1024


def over_limit(settings: Settings, size: int) -> str | None:
    """Return why a message of ``size`` bytes cannot be produced (over
    ``settings.max_message_bytes``), or None when it can. The one size check
    of everything newsstream produces: the CLI's publish and every agent's outbox.
    """
    limit = settings.max_message_bytes
    if size > limit:
        return f"{size} bytes, the limit is {limit} (NEWSSTREAM_MAX_MESSAGE_BYTES)"
    return None


def bootstrap_servers(settings: Settings) -> list[str]:
    """Return ``settings.kafka_bootstrap`` as a list of ``host:port``."""
    return [hp.strip() for hp in settings.kafka_bootstrap.split(",") if hp.strip()]


class KafkaConnectionFailed(RuntimeError):
    """Kafka cannot be used with these settings; the message is one line naming the address and the cause."""


class _Secret(str):
    """A password as the clients need it (a str) whose repr hides it: kafka-python logs its whole
    configuration at DEBUG level, and a dict is logged with the repr of its values."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'**********'"


def _uses_tls(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def _uses_sasl(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """Return the TLS context of every Kafka client, or None when the protocol uses no TLS.

    Trusts ``kafka_ca_file`` (else the system's CAs), checks certificates and
    host names unless ``kafka_verify_certs`` is off, and presents
    ``kafka_client_cert``/``kafka_client_key`` when set.

    Raises:
        ConfigurationError: a file is not PEM, or the key does not fit the
            certificate or its password (the message names the setting).
    """
    if not _uses_tls(settings):
        return None
    ca = settings.kafka_ca_file
    try:
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
    except ssl.SSLError as exc:
        raise ConfigurationError(f"{env_name('kafka_ca_file')}: {ca} holds no PEM certificate ({exc.reason})") from None
    if not settings.kafka_verify_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.kafka_client_cert:
        key_password = settings.kafka_client_key_password
        try:
            context.load_cert_chain(
                str(settings.kafka_client_cert),
                str(settings.kafka_client_key) if settings.kafka_client_key else None,
                password=key_password.get_secret_value() if key_password else None,
            )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigurationError(
                f"{env_name('kafka_client_cert')}/{env_name('kafka_client_key')}: cannot load the client certificate "
                f"and key ({getattr(exc, 'reason', None) or type(exc).__name__}; an encrypted key needs "
                f"{env_name('kafka_client_key_password')})"
            ) from None
    return context


def _sasl_options(settings: Settings) -> dict[str, Any]:
    if not _uses_sasl(settings):
        return {}
    password = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
    return {
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_username,
        "sasl_plain_password": _Secret(password),
    }


def connection_options(settings: Settings) -> dict[str, Any]:
    """Return the kafka-python keyword arguments that say where the brokers are and how to log in.

    Shape: ``{"bootstrap_servers": [...], "security_protocol": str}``, plus
    ``ssl_context`` (:func:`ssl_context`) for SSL and SASL_SSL and
    ``sasl_mechanism``/``sasl_plain_username``/``sasl_plain_password`` for
    the SASL protocols (aiokafka takes the same names).
    """
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings),
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    return options | _sasl_options(settings)


def faust_broker_options(settings: Settings) -> dict[str, Any]:
    """Return the faust ``App`` options that say where the brokers are and how to log in.

    Shape: ``{"broker": ["kafka://host:port", ...], "broker_credentials": ...}``:
    faust's ``SASLCredentials`` (mechanism, user, password and, for SASL_SSL,
    the TLS context) or ``SSLCredentials``, None for PLAINTEXT. Plugin agents'
    apps are built the same way (:func:`streams.app.create_app`).
    """
    context = ssl_context(settings)
    credentials: faust.types.auth.CredentialsT | None = None
    if _uses_sasl(settings):
        sasl = _sasl_options(settings)
        credentials = faust.SASLCredentials(
            username=sasl["sasl_plain_username"],
            password=sasl["sasl_plain_password"],
            ssl_context=context,
            mechanism=sasl["sasl_mechanism"],
        )
    elif context is not None:
        credentials = faust.SSLCredentials(context)
    return {"broker": [f"kafka://{hp}" for hp in bootstrap_servers(settings)], "broker_credentials": credentials}


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    try:
        return host.strip("[]") or "127.0.0.1", int(port)
    except ValueError:
        raise ConfigurationError(f"{env_name('kafka_bootstrap')}: no port in {address!r}") from None


async def _connect_once(host: str, port: int, options: dict[str, Any], timeout: float) -> BaseException | None:
    """Open one aiokafka connection (TCP, TLS, ApiVersions, SASL) and close it; return what failed, or None."""
    # When the broker refuses our client certificate, the TLS alert arrives on aiokafka's reader task after
    # the handshake; that error becomes the cause of the KafkaConnectionError create_conn raises, and the
    # task's copy would otherwise be logged as "never retrieved", with a traceback, when collected.
    asyncio.get_running_loop().set_exception_handler(lambda _loop, _context: None)
    try:
        conn = await create_conn(
            host, port, client_id="newsstream-check", request_timeout_ms=int(timeout * 1000), **options
        )
    except Exception as exc:  # every failure is explained by _explain
        return exc
    conn.close()
    return None


async def _enabled_mechanisms(host: str, port: int, options: dict[str, Any], timeout: float) -> list[str]:
    """The SASL mechanisms the listener enables, from a SaslHandshake without logging in; [] when unknown."""
    plain = {k: v for k, v in options.items() if not k.startswith("sasl_")}
    plain["security_protocol"] = "SSL" if "ssl_context" in plain else "PLAINTEXT"
    try:
        conn = await create_conn(
            host, port, client_id="newsstream-check", request_timeout_ms=int(timeout * 1000), **plain
        )
        try:
            response = await conn.send(SaslHandShakeRequest(options.get("sasl_mechanism", "PLAIN")))
            return [str(m) for m in response.enabled_mechanisms]
        finally:
            conn.close()
    except Exception:  # only a detail of a message already decided
        return []


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _explain(
    settings: Settings, address: str, exc: BaseException, timeout: float, enabled: list[str] | None = None
) -> tuple[bool, str]:
    """``(final, message)`` for a failed connection: final when waiting cannot help (TLS, credentials, protocol).

    ``enabled``: the listener's SASL mechanisms, when the broker refused ours.
    """
    protocol = settings.kafka_security_protocol
    where = f"Kafka at {address} ({protocol}" + (f", {settings.kafka_sasl_mechanism}" if _uses_sasl(settings) else "")
    where += ")"
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            detail = e.verify_message or e.reason or "verification failed"
            if "hostname" in detail.lower():
                return True, (
                    f"{where}: the broker's certificate is not valid for this host name ({detail}); "
                    "connect by a name the certificate lists"
                )
            return True, (
                f"{where}: the broker's certificate is not trusted ({detail}); set {env_name('kafka_ca_file')} "
                "to the CA that signed it"
            )
        if isinstance(e, ssl.SSLError):
            reason = e.reason or str(e)
            if "CERTIFICATE" in reason.upper():
                return True, (
                    f"{where}: the broker refused our TLS client certificate ({reason}); it requires one it trusts: "
                    f"set {env_name('kafka_client_cert')} and {env_name('kafka_client_key')}"
                )
            return True, f"{where}: TLS handshake failed ({reason}); does this listener use TLS?"
    if isinstance(exc, aiokafka_errors.SaslAuthenticationFailed):
        return True, (
            f"{where}: the broker refused user {settings.kafka_username!r} ({exc}); check "
            f"{env_name('kafka_username')} and {env_name('kafka_password')}"
        )
    if isinstance(exc, aiokafka_errors.UnsupportedSaslMechanismError):
        takes = f"; it takes {', '.join(enabled)}" if enabled else ""
        return True, (
            f"{where}: the broker does not enable SASL mechanism {settings.kafka_sasl_mechanism} on this "
            f"listener{takes}; set {env_name('kafka_sasl_mechanism')}"
        )
    if isinstance(exc, aiokafka_errors.IllegalSaslStateError):
        return True, (
            f"{where}: the listener takes no SASL login; is {env_name('kafka_security_protocol')} "
            "the listener's (PLAINTEXT or SSL)?"
        )
    if isinstance(exc, ConnectionRefusedError):
        return False, f"{where}: unreachable: connection refused"
    if isinstance(exc, socket.gaierror):
        return False, f"{where}: unreachable: cannot resolve the host name ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return False, f"{where}: unreachable: no answer within {timeout:.0f} s"
    if isinstance(exc, ConnectionResetError | aiokafka_errors.KafkaConnectionError):
        stage = "during the TLS handshake" if _uses_tls(settings) else "before answering"
        return True, (
            f"{where}: the broker closed the connection {stage}; does this listener use {protocol} "
            f"({env_name('kafka_security_protocol')})?"
        )
    if isinstance(exc, OSError):
        return False, f"{where}: unreachable: {exc.strerror or exc}"
    return True, f"{where}: {type(exc).__name__}: {exc}"


def check(settings: Settings, timeout: float | None = None) -> None:
    """Connect to a broker of ``settings.kafka_bootstrap`` as the worker does; return once one accepts.

    Each address gets a TCP connection, TLS (SSL, SASL_SSL), an ApiVersions
    request and the SASL login (SASL_*), through aiokafka, the worker's
    client, with the options every client gets. Addresses that do not answer
    (refused, unresolved, timed out) are tried again every second for
    ``timeout`` seconds (default ``settings.connect_timeout_seconds``);
    anything waiting cannot fix fails at once. Call it outside a running
    event loop.

    Raises:
        KafkaConnectionFailed: one line: the address, protocol and mechanism,
            the cause and the settings to look at; never a secret.
        ConfigurationError: a TLS file of the settings cannot be loaded.
    """
    timeout = settings.connect_timeout_seconds if timeout is None else timeout
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    options |= _sasl_options(settings)
    addresses = bootstrap_servers(settings)
    if not addresses:
        raise ConfigurationError(f"{env_name('kafka_bootstrap')} names no broker")
    deadline = time.monotonic() + timeout
    # aiokafka logs a broken connection (with a traceback for some); the check says why in one line
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        _check(settings, addresses, options, timeout, deadline)
    finally:
        quiet.setLevel(level)


def _check(settings: Settings, addresses: list[str], options: dict[str, Any], timeout: float, deadline: float) -> None:
    while True:
        last = ""
        for address in addresses:
            host, port = _host_port(address)
            attempt = min(timeout, max(1.0, deadline - time.monotonic()))
            error = asyncio.run(_connect_once(host, port, options, attempt))
            if error is None:
                return
            enabled = None
            if isinstance(error, aiokafka_errors.UnsupportedSaslMechanismError):
                enabled = asyncio.run(_enabled_mechanisms(host, port, options, attempt))
            final, last = _explain(settings, address, error, attempt, enabled)
            if final:
                raise KafkaConnectionFailed(last)
        if time.monotonic() >= deadline:
            every = "every bootstrap address " if len(addresses) > 1 else ""
            raise KafkaConnectionFailed(f"{last} (tried {every}for {timeout:.0f} s)")
        time.sleep(max(0.0, min(1.0, deadline - time.monotonic())))


def producer(settings: Settings, **options: Any) -> KafkaProducer:
    """Return a kafka-python producer that waits for all in-sync replicas (``acks="all"``), idempotent.

    Idempotence (``enable_idempotence=True``: the broker drops a batch the
    producer sends again after a lost acknowledgement, and keeps each
    partition's batches in order) makes the retries safe: a send is retried
    (from 100 ms to 1 s apart) until ``delivery_timeout_ms`` (120 s) has
    passed, which covers a leader election after a broker dies (seconds).
    Sized for ``settings.max_message_bytes``; ``options`` override or add
    ``KafkaProducer`` keyword arguments (``linger_ms`` ...).
    """
    config: dict[str, Any] = {
        "acks": "all",
        "enable_idempotence": True,
        "delivery_timeout_ms": 120_000,
        "linger_ms": 20,
        "max_request_size": settings.max_message_bytes + MESSAGE_OVERHEAD,
        "client_id": "newsstream-publish",
        **options,
    }
    return KafkaProducer(**connection_options(settings), **config)


def admin(settings: Settings, **options: Any) -> KafkaAdminClient:
    """Return a kafka-python admin client; ``options`` are further ``KafkaAdminClient`` keyword arguments."""
    return KafkaAdminClient(**connection_options(settings), **{"client_id": "newsstream-admin", **options})


def consumer(settings: Settings, group_id: str | None = None, **options: Any) -> KafkaConsumer:
    """Return a kafka-python consumer in consumer group ``group_id`` (None: no group, nothing committed).

    Auto-commit is off; ``options`` are further ``KafkaConsumer`` keyword arguments.
    """
    return KafkaConsumer(
        **connection_options(settings), **{"group_id": group_id, "enable_auto_commit": False, **options}
    )


def healthy(settings: Settings, timeout: float = 5.0) -> bool:
    """Return True when a broker of ``settings.kafka_bootstrap`` answers a metadata request."""
    try:
        # kafka-python waits bootstrap_timeout_ms (30 s by default) for a first broker
        ms = int(timeout * 1000)
        client = admin(settings, request_timeout_ms=ms, bootstrap_timeout_ms=ms)
        try:
            client.list_topics()
        finally:
            client.close()
        return True
    except Exception:  # any failure means "not healthy yet"
        return False
