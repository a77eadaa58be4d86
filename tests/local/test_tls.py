"""The CA, certificates and credentials file of ``services up --secure``, and nginx's check of its config."""

from __future__ import annotations

import base64
import ipaddress
import shutil
import ssl
import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from streams.local import proxy, tls
from streams.local.exceptions import ServiceError
from streams.local.layout import Layout
from streams.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        kafka_bootstrap="127.0.0.1:9092", elasticsearch_url="http://127.0.0.1:9200", services_dir=tmp_path / "svc"
    )


def _cert(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, hostname: str) -> dict:
    """Run a TLS handshake between two contexts over memory buffers; return the client's view of the peer."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = set()
    for _ in range(20):
        for side in (client, server):
            if side in done:
                continue
            try:
                side.do_handshake()
                done.add(side)
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if len(done) == 2:
            peer = client.getpeercert()
            assert peer is not None
            return peer
    raise AssertionError("the handshake did not finish")


def test_the_ca_signs_a_server_certificate_for_loopback_that_python_and_openssl_accept(settings):
    d = tls.ensure_certificates(settings, ["kafka.internal"])
    ca, server = _cert(d / "ca.pem"), _cert(d / "server.pem")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "kafka.internal"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    client = _cert(d / "client.pem")
    client.verify_directly_issued_by(ca)
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    # a TLS handshake in memory: Python's client trusts the chain for the loopback names (with the strict
    # X.509 checks Python 3.13 turns on by default), and refuses another name
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(d / "server.pem", d / "server-key.pem")
    client_ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    client_ctx.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
    for name in ("127.0.0.1", "localhost", "kafka.internal"):
        assert _handshake(server_ctx, client_ctx, name)["subject"]
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        _handshake(server_ctx, client_ctx, "example.com")
    # the Kafka keystore is the key followed by the chain
    keystore = (d / "broker-keystore.pem").read_text()
    assert keystore.startswith("-----BEGIN PRIVATE KEY-----") and keystore.count("BEGIN CERTIFICATE") == 2
    openssl = shutil.which("openssl")
    if openssl:
        out = subprocess.run(
            [openssl, "verify", "-x509_strict", "-CAfile", str(d / "ca.pem"), str(d / "server.pem")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0, out.stdout + out.stderr


def test_keys_are_private_and_certificates_are_made_once(settings):
    d = tls.ensure_certificates(settings, [])
    for key in ("ca-key.pem", "server-key.pem", "client-key.pem", "broker-keystore.pem"):
        assert (d / key).stat().st_mode & 0o777 == 0o600, key
    assert d.stat().st_mode & 0o777 == 0o700
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    tls.ensure_certificates(settings, [])
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before
    # a host the server certificate does not cover: a new server certificate, the same CA
    tls.ensure_certificates(settings, ["es.internal"])
    assert (d / "ca.pem").read_bytes() == before["ca.pem"]
    assert (d / "server.pem").read_bytes() != before["server.pem"]
    san = _cert(d / "server.pem").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "es.internal" in san.get_values_for_type(x509.DNSName)


def test_credentials_are_generated_once_kept_private_and_hidden_from_repr(settings):
    tls.ensure_certificates(settings, [])
    path = tls.write_credentials(settings, ["127.0.0.1:9094"], ["127.0.0.1:9095"], ["https://127.0.0.1:9201"])
    assert path.stat().st_mode & 0o777 == 0o600
    first = tls.read_credentials(settings)
    assert base64.b64decode(first.api_key_encoded).decode() == f"{first.api_key_id}:{first.api_key}"
    assert len(first.api_key_id) == 20 and len(first.api_key) == 22
    assert len(first.kafka_password) >= 32 and first.kafka_password != first.elasticsearch_password
    assert first.ca_fingerprint == tls.fingerprint(first.ca_file) and len(first.ca_fingerprint) == 64
    text = repr(first)
    for secret in (first.kafka_password, first.elasticsearch_password, first.api_key, first.api_key_encoded):
        assert secret not in text
    tls.write_credentials(
        settings, ["127.0.0.1:9094", "127.0.0.1:9104"], ["127.0.0.1:9095"], ["https://127.0.0.1:9201"]
    )
    second = tls.read_credentials(settings)
    assert second.kafka_bootstrap_servers == "127.0.0.1:9094,127.0.0.1:9104"
    assert (second.kafka_password, second.elasticsearch_password, second.api_key_encoded) == (
        first.kafka_password,
        first.elasticsearch_password,
        first.api_key_encoded,
    )


def test_reading_credentials_before_up_secure_names_the_command(settings):
    with pytest.raises(ServiceError, match=r"secure.json: run `newsstream services up --secure`"):
        tls.read_credentials(settings)


@pytest.mark.secure
def test_nginx_accepts_the_proxy_configuration(settings):
    tls.ensure_certificates(settings, [])
    layout = Layout(elasticsearch_nodes=3, secure=True)
    tls.write_credentials(settings, ["127.0.0.1:9094"], ["127.0.0.1:9095"], ["https://127.0.0.1:9201"])
    creds = tls.read_credentials(settings)
    work = settings.services_dir / "proxy"
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / kind).mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(proxy.config_text(settings, layout, creds, tls.tls_dir(settings), work))
    (settings.services_dir / "logs").mkdir()
    out = subprocess.run(
        [
            proxy.find_nginx(),
            "-t",
            "-p",
            str(work),
            "-e",
            str(settings.services_dir / "logs" / "e.log"),
            "-c",
            str(conf),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    text = conf.read_text()
    assert text.count("listen 127.0.0.1:92") == 3  # one TLS server per node: 9201, 9211, 9221
    assert creds.elasticsearch_password not in text and creds.api_key not in text  # only the encoded forms
