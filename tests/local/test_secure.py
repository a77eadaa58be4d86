"""``services up --secure`` for real: Kafka's SASL_SSL and SSL listeners and the HTTPS proxy in front of
Elasticsearch accept exactly the generated credentials over TLS checked against the generated CA."""

from __future__ import annotations

import base64
import json
import logging
import socket
import ssl
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from elasticsearch import AuthenticationException, Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from streams.local import processes
from streams.local.tls import _make_ca
from tests.conftest import run_cli

pytestmark = [pytest.mark.services, pytest.mark.secure]


def _sasl(creds, mechanism="SCRAM-SHA-512", password=None, cafile=None) -> dict:
    return {
        "bootstrap_servers": creds.kafka_bootstrap_servers,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": creds.kafka_username,
        "sasl_plain_password": creds.kafka_password if password is None else password,
        "ssl_cafile": str(cafile or creds.ca_file),
    }


def _tls_peer(host: str, port: int, context: ssl.SSLContext) -> dict:
    with socket.create_connection((host, port), timeout=10) as raw, context.wrap_socket(raw, server_hostname=host) as s:
        peer = s.getpeercert()
    assert peer is not None
    return peer


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.split(",")[0].rpartition(":")
    return host, int(port)


# ---------------------------------------------------------------- Kafka


def test_sasl_ssl_carries_records_with_scram_sha_512_and_the_generated_ca(secure_services):
    settings, creds = secure_services
    topic = f"secure-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**_sasl(creds), bootstrap_timeout_ms=10000)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
        producer = KafkaProducer(**_sasl(creds), acks="all")
        producer.send(topic, key=b"k", value=b"over SASL_SSL").get(timeout=30)
        producer.close()
        consumer = KafkaConsumer(**_sasl(creds), group_id=None, enable_auto_commit=False)
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        records = [r for batch in consumer.poll(timeout_ms=10000).values() for r in batch]
        consumer.close()
        assert [(r.key, r.value) for r in records] == [(b"k", b"over SASL_SSL")]
        # the open listener serves the same broker: the record is there too
        plain = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False)
        plain.assign([tp])
        plain.seek_to_beginning(tp)
        assert [r.value for b in plain.poll(timeout_ms=10000).values() for r in b] == [b"over SASL_SSL"]
        plain.close()
    finally:
        admin.delete_topics([topic])
        admin.close()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "PLAIN"])
def test_sasl_ssl_also_takes_scram_sha_256_and_plain(secure_services, mechanism):
    _settings, creds = secure_services
    admin = KafkaAdminClient(**_sasl(creds, mechanism), bootstrap_timeout_ms=10000)
    try:
        assert admin.describe_cluster()["brokers"][0]["port"] == _host_port(creds.kafka_bootstrap_servers)[1]
    finally:
        admin.close()


def _refused(caplog, **config) -> str:
    """Connect an admin client that must fail; return what kafka-python logged about why."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kafka"), pytest.raises(Exception, match="Unable to bootstrap"):
        KafkaAdminClient(**config, bootstrap_timeout_ms=3000)
    return caplog.text


def _broker_log(settings) -> str:
    log = processes.log_path(settings, "kafka")
    if not log.exists():
        pytest.skip("Kafka was not started by newsstream here: its log, where it says why it refused, is elsewhere")
    return log.read_text(errors="replace")


def test_sasl_ssl_refuses_a_wrong_password(secure_services, caplog):
    settings, creds = secure_services
    port = _host_port(creds.kafka_bootstrap_servers)[1]
    needle = "invalid credentials with SASL mechanism SCRAM-SHA-512"
    before = [line for line in _broker_log(settings).splitlines() if needle in line and f":{port}-" in line]
    log = _refused(caplog, **_sasl(creds, password=creds.kafka_password + "x"))
    assert creds.kafka_password not in log
    # the broker's own word (the client sees the refusal or only the connection it closes, by timing)
    after = [line for line in _broker_log(settings).splitlines() if needle in line and f":{port}-" in line]
    assert len(after) > len(before)


def test_sasl_ssl_refuses_a_client_that_does_not_trust_the_ca(secure_services, caplog, tmp_path):
    _settings, creds = secure_services
    # a CA of its own: the client's trust store does not hold ours
    other = tmp_path / "other-ca.pem"
    other.write_bytes(_make_ca()[1].public_bytes(serialization.Encoding.PEM))
    assert x509.load_pem_x509_certificate(other.read_bytes()).subject.rfc4514_string()
    log = _refused(caplog, **_sasl(creds, cafile=other))
    assert "CERTIFICATE_VERIFY_FAILED" in log
    with pytest.raises(ssl.SSLCertVerificationError):
        _tls_peer(*_host_port(creds.kafka_bootstrap_servers), ssl.create_default_context(cafile=str(other)))
    # and the generated CA verifies the broker, named by its loopback address
    peer = _tls_peer(*_host_port(creds.kafka_bootstrap_servers), ssl.create_default_context(cafile=str(creds.ca_file)))
    assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]


def test_ssl_listener_requires_the_client_certificate(secure_services, caplog):
    _settings, creds = secure_services
    base = {
        "bootstrap_servers": creds.kafka_ssl_bootstrap_servers,
        "security_protocol": "SSL",
        "ssl_cafile": str(creds.ca_file),
    }
    admin = KafkaAdminClient(
        **base,
        ssl_certfile=str(creds.client_cert_file),
        ssl_keyfile=str(creds.client_key_file),
        bootstrap_timeout_ms=10000,
    )
    try:
        assert admin.describe_cluster()["brokers"]
    finally:
        admin.close()
    assert "BAD_CERTIFICATE" in _refused(caplog, **base).upper()


# ---------------------------------------------------------------- Elasticsearch behind the proxy


@pytest.mark.parametrize("how", ["basic", "api_key_pair", "api_key_encoded", "ca_fingerprint"])
def test_proxy_passes_basic_and_api_key_credentials_to_elasticsearch(secure_services, how):
    settings, creds = secure_services
    auth = {
        "basic": {"basic_auth": (creds.elasticsearch_username, creds.elasticsearch_password)},
        "api_key_pair": {"api_key": (creds.api_key_id, creds.api_key)},
        "api_key_encoded": {"api_key": creds.api_key_encoded},
        "ca_fingerprint": {"api_key": creds.api_key_encoded},
    }[how]
    trust = (
        {"ssl_assert_fingerprint": creds.ca_fingerprint}
        if how == "ca_fingerprint"
        else {"ca_certs": str(creds.ca_file)}
    )
    index = f"secure-{how.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    secure = Elasticsearch(creds.elasticsearch_url, **auth, **trust, request_timeout=30)
    plain = Elasticsearch(settings.elasticsearch_url)
    try:
        secure.index(index=index, id="1", document={"title": how}, refresh=True)
        # written through the proxy, found on the open port of the same node
        assert plain.get(index=index, id="1")["_source"] == {"title": how}
        assert secure.count(index=index)["count"] == 1
    finally:
        plain.options(ignore_status=404).indices.delete(index=index)


def _raw(url: str, authorization: str | None, cafile) -> tuple[int, dict[str, Any], dict]:
    headers = {"Authorization": authorization} if authorization else {}
    req = urllib.request.Request(f"{url}/_cluster/health", headers=headers)
    ctx = ssl.create_default_context(cafile=str(cafile))
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        got: dict[str, Any] = {**dict(err.headers), "WWW-Authenticate": err.headers.get_all("WWW-Authenticate")}
        return err.code, got, json.loads(err.read())


@pytest.mark.parametrize("case", ["wrong_password", "wrong_api_key", "unknown_scheme", "missing", "lower_case_scheme"])
def test_proxy_answers_wrong_credentials_as_elasticsearch_does(secure_services, case):
    _settings, creds = secure_services

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    header = {
        "wrong_password": "Basic " + b64(f"{creds.elasticsearch_username}:{creds.elasticsearch_password}x"),
        "wrong_api_key": "ApiKey " + b64(f"{creds.api_key_id}:{creds.api_key[:-1]}"),
        "unknown_scheme": "Bearer " + creds.api_key_encoded,
        "missing": None,
        "lower_case_scheme": "apikey " + creds.api_key_encoded,  # schemes are case-insensitive: accepted
    }[case]
    status, headers, body = _raw(creds.elasticsearch_url, header, creds.ca_file)
    if case == "lower_case_scheme":
        assert status == 200 and body["status"] in ("green", "yellow")
        return
    assert status == 401
    assert headers["X-elastic-product"] == "Elasticsearch"
    assert headers["Content-Type"].startswith("application/json")
    assert set(headers["WWW-Authenticate"]) == {
        'Basic realm="security", charset="UTF-8"',
        'Bearer realm="security"',
        "ApiKey",
    }
    assert body["status"] == 401
    assert body["error"]["type"] == body["error"]["root_cause"][0]["type"] == "security_exception"
    expected = (
        "missing authentication credentials for REST request [/_cluster/health]"
        if case == "missing"
        else "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
    )
    assert body["error"]["reason"] == expected


def test_elasticsearch_client_raises_authentication_errors_and_refuses_an_untrusted_ca(secure_services):
    _settings, creds = secure_services
    wrong = Elasticsearch(
        creds.elasticsearch_url, api_key=(creds.api_key_id, "not-the-key"), ca_certs=str(creds.ca_file)
    )
    with pytest.raises(AuthenticationException) as info:
        wrong.info()
    assert info.value.meta.status == 401
    with pytest.raises(ssl.SSLCertVerificationError):
        _tls_peer(*_host_port(creds.elasticsearch_url.split("//")[1]), ssl.create_default_context())  # system CAs


def test_status_shows_secure_endpoints_and_no_secret(secure_services):
    settings, creds = secure_services
    assert creds.path.stat().st_mode & 0o777 == 0o600
    env = {
        "NEWSSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "NEWSSTREAM_ELASTICSEARCH_URL": settings.elasticsearch_url,
        "NEWSSTREAM_SERVICES_DIR": str(settings.services_dir),
    }
    out = run_cli(env, "services", "status")
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout + out.stderr
    assert f"sasl_ssl {creds.kafka_bootstrap_servers}" in text
    assert creds.elasticsearch_url in text and str(creds.path) in text
    basic = base64.b64encode(f"{creds.elasticsearch_username}:{creds.elasticsearch_password}".encode()).decode()
    for secret in (creds.kafka_password, creds.elasticsearch_password, creds.api_key, creds.api_key_encoded, basic):
        assert secret not in text
