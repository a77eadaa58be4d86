"""The certificates and credentials of ``newsstream services up --secure``.

Made once with the ``cryptography`` library and kept in the services folder,
so that clients configured once keep working across restarts:

``SERVICES_DIR/tls/``
    ``ca.pem`` / ``ca-key.pem``: a self-signed CA (RSA 2048, 10 years);
    ``server.pem`` (the server certificate, then the CA: the chain a server
    sends) / ``server-key.pem``: for ``localhost``, ``127.0.0.1``, ``::1`` and
    the configured hosts, used by the Kafka brokers and the Elasticsearch proxy;
    ``broker-keystore.pem``: key and chain in one file, a Kafka PEM keystore;
    ``client.pem`` / ``client-key.pem``: a client certificate (CN newsstream)
    for Kafka's SSL listener, which requires one.
``SERVICES_DIR/secure.json`` (mode 0600)
    the generated passwords and API key, and the endpoints; read it with
    :func:`streams.local.services.secure_credentials`.

Keys are unencrypted PKCS#8 files of mode 0600: this is a local test set-up.
Server and client certificates are remade when missing, expiring within 30
days, or not covering a configured host.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from streams.local.exceptions import ServiceError
from streams.settings import Settings

USER = "newsstream"
KAFKA_SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
CA_DAYS = 3650
LEAF_DAYS = 825
RENEW_DAYS = 30


def tls_dir(settings: Settings) -> Path:
    return settings.services_dir / "tls"


def credentials_path(settings: Settings) -> Path:
    return settings.services_dir / "secure.json"


# ---------------------------------------------------------------- certificates


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the start (never readable by others)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "newsstream local"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def _make_ca() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    name = _name("newsstream local CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _make_leaf(
    ca_key: rsa.RSAPrivateKey, ca: x509.Certificate, cn: str, hosts: list[str], usage: x509.ObjectIdentifier
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
    )
    if hosts:
        builder = builder.add_extension(_san(hosts), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _leaf_ok(path: Path, ca: x509.Certificate, hosts: list[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return False
    if cert.issuer != ca.subject or cert.not_valid_after_utc - dt.datetime.now(dt.UTC) < dt.timedelta(days=RENEW_DAYS):
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError):
        return False
    if not hosts:
        return True
    have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(_san(hosts)) <= set(have)


def ensure_certificates(settings: Settings, hosts: list[str]) -> Path:
    """Make the CA once, and the server and client certificates when needed; return the tls folder.

    ``hosts`` are the names and addresses the server certificate must cover
    (besides localhost, 127.0.0.1 and ::1).
    """
    d = tls_dir(settings)
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    hosts = ["localhost", "127.0.0.1", "::1", *hosts]
    try:
        ca_key = serialization.load_pem_private_key((d / "ca-key.pem").read_bytes(), password=None)
        ca = x509.load_pem_x509_certificate((d / "ca.pem").read_bytes())
    except (OSError, ValueError):
        ca_key, ca = _make_ca()
        _write_private(d / "ca-key.pem", _key_pem(ca_key))
        (d / "ca.pem").write_bytes(_cert_pem(ca))
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise ServiceError(f"{d / 'ca-key.pem'} is not an RSA key; delete {d} to make a new CA")
    if not _leaf_ok(d / "server.pem", ca, hosts):
        key, cert = _make_leaf(ca_key, ca, "newsstream local services", hosts, ExtendedKeyUsageOID.SERVER_AUTH)
        _write_private(d / "server-key.pem", _key_pem(key))
        _write_private(d / "broker-keystore.pem", _key_pem(key) + _cert_pem(cert) + _cert_pem(ca))
        (d / "server.pem").write_bytes(_cert_pem(cert) + _cert_pem(ca))
    if not _leaf_ok(d / "client.pem", ca, []):
        key, cert = _make_leaf(ca_key, ca, USER, [], ExtendedKeyUsageOID.CLIENT_AUTH)
        _write_private(d / "client-key.pem", _key_pem(key))
        (d / "client.pem").write_bytes(_cert_pem(cert))
    return d


def fingerprint(pem_file: Path) -> str:
    """SHA-256 fingerprint of the first certificate in ``pem_file``, lower-case hex without colons
    (the form Elasticsearch prints at its first start and elasticsearch-py's ``ssl_assert_fingerprint`` takes)."""
    cert = x509.load_pem_x509_certificate(pem_file.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex()


# ---------------------------------------------------------------- credentials


@dataclass(frozen=True)
class SecureCredentials:
    """What a client needs for the secure endpoints of ``services up --secure``.

    Kafka: ``kafka_bootstrap_servers`` (SASL_SSL, every broker), mechanisms
    :data:`KAFKA_SASL_MECHANISMS` with ``kafka_username``/``kafka_password``;
    ``kafka_ssl_bootstrap_servers`` (SSL, client certificate required:
    ``client_cert_file``/``client_key_file``); ``kafka_sasl_plaintext_bootstrap_servers``
    (SASL_PLAINTEXT, SCRAM-SHA-512 only: other mechanisms are refused). Elasticsearch: ``elasticsearch_url``
    (HTTPS, first node; ``elasticsearch_urls`` all) with Basic
    ``elasticsearch_username``/``elasticsearch_password`` or the API key
    (``api_key_id``/``api_key``, or ``api_key_encoded`` = base64 of ``id:key``,
    the form Kibana shows). TLS: ``ca_file``, or ``ca_fingerprint`` (SHA-256 of
    the CA certificate; elasticsearch-py's sync client) / ``server_fingerprint``
    (of the server certificate; aiohttp's check). Secrets are left out of repr.
    """

    path: Path
    kafka_bootstrap_servers: str
    kafka_ssl_bootstrap_servers: str
    kafka_username: str
    kafka_password: str = field(repr=False)
    elasticsearch_url: str
    elasticsearch_urls: list[str]
    elasticsearch_username: str
    elasticsearch_password: str = field(repr=False)
    api_key_id: str
    api_key: str = field(repr=False)
    api_key_encoded: str = field(repr=False)
    ca_file: Path
    ca_fingerprint: str
    server_fingerprint: str
    client_cert_file: Path
    client_key_file: Path
    kafka_sasl_mechanisms: tuple[str, ...] = KAFKA_SASL_MECHANISMS
    kafka_sasl_plaintext_bootstrap_servers: str = ""


def _secrets_of(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
        return {
            "kafka_password": data["kafka"]["password"],
            "elasticsearch_password": data["elasticsearch"]["password"],
            "api_key_id": data["elasticsearch"]["api_key_id"],
            "api_key": data["elasticsearch"]["api_key"],
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def write_credentials(
    settings: Settings,
    kafka_sasl: list[str],
    kafka_ssl: list[str],
    es_https: list[str],
    kafka_sasl_plaintext: list[str] | None = None,
) -> Path:
    """Write ``secure.json`` (0600) with the endpoints given; passwords and API key are made the first time only.

    ``kafka_sasl``/``kafka_ssl``/``kafka_sasl_plaintext`` are ``host:port`` lists, ``es_https`` URLs.
    """
    path = credentials_path(settings)
    old = _secrets_of(path)
    kafka_password = old.get("kafka_password") or secrets.token_urlsafe(24)
    es_password = old.get("elasticsearch_password") or secrets.token_urlsafe(24)
    # Elasticsearch's own API key ids are 20 characters, keys 22 (URL-safe base64)
    key_id = old.get("api_key_id") or secrets.token_urlsafe(15)
    key = old.get("api_key") or secrets.token_urlsafe(16)
    d = tls_dir(settings)
    data = {
        "kafka": {
            "bootstrap_servers": ",".join(kafka_sasl),
            "security_protocol": "SASL_SSL",
            "sasl_mechanisms": list(KAFKA_SASL_MECHANISMS),
            "username": USER,
            "password": kafka_password,
            "ssl_bootstrap_servers": ",".join(kafka_ssl),
            "sasl_plaintext_bootstrap_servers": ",".join(kafka_sasl_plaintext or []),
            "sasl_plaintext_mechanisms": ["SCRAM-SHA-512"],
        },
        "elasticsearch": {
            "url": es_https[0],
            "urls": es_https,
            "username": USER,
            "password": es_password,
            "api_key_id": key_id,
            "api_key": key,
            "api_key_encoded": b64encode(f"{key_id}:{key}".encode()).decode(),
        },
        "tls": {
            "ca_file": str(d / "ca.pem"),
            "ca_fingerprint": fingerprint(d / "ca.pem"),
            "server_fingerprint": fingerprint(d / "server.pem"),
            "client_cert_file": str(d / "client.pem"),
            "client_key_file": str(d / "client-key.pem"),
        },
    }
    _write_private(path, (json.dumps(data, indent=2) + "\n").encode())
    return path


def read_credentials(settings: Settings) -> SecureCredentials:
    """Read ``secure.json``.

    Raises:
        ServiceError: no such file (``services up --secure`` has not run with
            these settings) or it is not what :func:`write_credentials` writes.
    """
    path = credentials_path(settings)
    try:
        data = json.loads(path.read_text())
        k, e, t = data["kafka"], data["elasticsearch"], data["tls"]
        return SecureCredentials(
            path=path,
            kafka_bootstrap_servers=k["bootstrap_servers"],
            kafka_ssl_bootstrap_servers=k["ssl_bootstrap_servers"],
            kafka_username=k["username"],
            kafka_password=k["password"],
            elasticsearch_url=e["url"],
            elasticsearch_urls=list(e["urls"]),
            elasticsearch_username=e["username"],
            elasticsearch_password=e["password"],
            api_key_id=e["api_key_id"],
            api_key=e["api_key"],
            api_key_encoded=e["api_key_encoded"],
            ca_file=Path(t["ca_file"]),
            ca_fingerprint=t["ca_fingerprint"],
            server_fingerprint=t["server_fingerprint"],
            client_cert_file=Path(t["client_cert_file"]),
            client_key_file=Path(t["client_key_file"]),
            kafka_sasl_plaintext_bootstrap_servers=k.get("sasl_plaintext_bootstrap_servers", ""),
        )
    except FileNotFoundError:
        raise ServiceError(f"no {path}: run `newsstream services up --secure` with these settings first") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ServiceError(
            f"{path} is unreadable ({type(exc).__name__}); delete it and run services up --secure"
        ) from None
