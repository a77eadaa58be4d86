"""The security settings and what the client factories make of them, without the services.

Secrets are SecretStr and come from variables, ``*_FILE`` variables or a
secrets folder; invalid or contradictory settings fail in one line that names
the variables and never a secret; every Kafka client (kafka-python, faust's
aiokafka) and every Elasticsearch client (sync, async, Kibana's import) gets
the same security options. The real connections are in
``tests/e2e/test_secure_pipeline.py``.
"""

from __future__ import annotations

import base64
import os
import ssl
from pathlib import Path

import faust
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from indexers.elasticsearch import client as es_client
from streams import kafka
from streams.local.tls import _make_ca, _make_leaf
from streams.settings import SECRET_FIELDS, ConfigurationError, Settings, get_settings
from tests.conftest import run_cli

PASSWORD = "kafka-pw-7f3a9c"
ES_PASSWORD = "es-pw-2b8e11"
API_KEY_ID, API_KEY = "VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"
ENCODED = base64.b64encode(f"{API_KEY_ID}:{API_KEY}".encode()).decode()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """No NEWSSTREAM_* variable of the developer's shell leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("NEWSSTREAM_"):
            monkeypatch.delenv(name)


@pytest.fixture
def pki(tmp_path) -> dict[str, Path]:
    """A CA, a server and a client certificate (PEM files), and the client key encrypted with a password."""
    ca_key, ca = _make_ca()
    key, cert = _make_leaf(ca_key, ca, "client", [], ExtendedKeyUsageOID.CLIENT_AUTH)
    files = {
        "ca": tmp_path / "ca.pem",
        "cert": tmp_path / "client.pem",
        "key": tmp_path / "client-key.pem",
        "encrypted_key": tmp_path / "client-key-encrypted.pem",
        "not_pem": tmp_path / "not.pem",
    }
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    files["encrypted_key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"key-pw-91"),
        )
    )
    files["not_pem"].write_text("not a certificate\n")
    return files


def _sasl_ssl(**extra) -> Settings:
    return Settings(
        kafka_bootstrap="b1.example:9096,b2.example:9096",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_username="alice",
        kafka_password=PASSWORD,
        **extra,
    )


# ---------------------------------------------------------------- secrets


def test_secrets_are_masked_in_repr_str_and_json():
    s = _sasl_ssl(elasticsearch_url="https://es:9200", elasticsearch_username="bob", elasticsearch_password=ES_PASSWORD)
    t = Settings(elasticsearch_api_key=ENCODED)
    for text in (repr(s), str(s), s.model_dump_json(), repr(t), str(t), t.model_dump_json(), repr(s.model_dump())):
        for secret in (PASSWORD, ES_PASSWORD, ENCODED, API_KEY):
            assert secret not in text
    assert s.kafka_password is not None and s.kafka_password.get_secret_value() == PASSWORD
    assert set(SECRET_FIELDS) <= set(Settings.model_fields)


def test_a_secret_comes_from_its_file_variable_without_the_final_newline(monkeypatch, tmp_path):
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    (tmp_path / "key").write_text(ENCODED + "\n")
    monkeypatch.setenv("NEWSSTREAM_KAFKA_SECURITY_PROTOCOL", "sasl_ssl")  # any case
    monkeypatch.setenv("NEWSSTREAM_KAFKA_USERNAME", "alice")
    monkeypatch.setenv("NEWSSTREAM_KAFKA_PASSWORD_FILE", str(tmp_path / "pw"))
    monkeypatch.setenv("NEWSSTREAM_ELASTICSEARCH_API_KEY_FILE", str(tmp_path / "key"))
    s = get_settings()
    assert s.kafka_security_protocol == "SASL_SSL"
    assert s.kafka_password is not None and s.kafka_password.get_secret_value() == PASSWORD
    assert s.elasticsearch_api_key is not None and s.elasticsearch_api_key.get_secret_value() == ENCODED


def test_a_secret_and_its_file_variable_together_are_refused(monkeypatch, tmp_path):
    (tmp_path / "pw").write_text(PASSWORD)
    monkeypatch.setenv("NEWSSTREAM_ELASTICSEARCH_PASSWORD", ES_PASSWORD)
    monkeypatch.setenv("NEWSSTREAM_ELASTICSEARCH_PASSWORD_FILE", str(tmp_path / "pw"))
    with pytest.raises(ConfigurationError) as info:
        get_settings()
    text = str(info.value)
    assert "NEWSSTREAM_ELASTICSEARCH_PASSWORD and NEWSSTREAM_ELASTICSEARCH_PASSWORD_FILE are both set" in text
    assert PASSWORD not in text and ES_PASSWORD not in text


@pytest.mark.parametrize("case", ["missing", "empty"])
def test_an_unreadable_or_empty_secret_file_is_named(monkeypatch, tmp_path, case):
    path = tmp_path / "pw"
    if case == "empty":
        path.write_text("\n")
    monkeypatch.setenv("NEWSSTREAM_KAFKA_PASSWORD_FILE", str(path))
    with pytest.raises(ConfigurationError, match="NEWSSTREAM_KAFKA_PASSWORD_FILE") as info:
        get_settings()
    assert str(path) in str(info.value)
    assert ("is empty" if case == "empty" else "cannot read") in str(info.value)


def test_secrets_dir_supplies_secrets_by_variable_name_below_variables_and_file_variables(monkeypatch, tmp_path):
    folder = tmp_path / "secrets"
    folder.mkdir()
    # a Kubernetes Secret mounted as a folder: one file per key, any case
    (folder / "NEWSSTREAM_ELASTICSEARCH_PASSWORD").write_text(ES_PASSWORD + "\n")
    (folder / "newsstream_kafka_password").write_text("from-the-folder")
    (folder / "NEWSSTREAM_ELASTICSEARCH_USERNAME").write_text("bob")
    (tmp_path / "pw").write_text(PASSWORD)
    monkeypatch.setenv("NEWSSTREAM_SECRETS_DIR", str(folder))
    monkeypatch.setenv("NEWSSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("NEWSSTREAM_KAFKA_USERNAME", "alice")
    monkeypatch.setenv("NEWSSTREAM_KAFKA_PASSWORD_FILE", str(tmp_path / "pw"))
    s = get_settings()
    assert s.elasticsearch_username == "bob"
    assert s.elasticsearch_password is not None and s.elasticsearch_password.get_secret_value() == ES_PASSWORD
    assert s.kafka_password is not None and s.kafka_password.get_secret_value() == PASSWORD  # _FILE wins
    monkeypatch.setenv("NEWSSTREAM_ELASTICSEARCH_USERNAME", "carol")
    assert get_settings().elasticsearch_username == "carol"  # the variable wins


def test_a_secrets_dir_that_is_not_a_folder_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSSTREAM_SECRETS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigurationError, match=r"NEWSSTREAM_SECRETS_DIR: .*nowhere is not a folder"):
        get_settings()


# ---------------------------------------------------------------- one-line errors


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"NEWSSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "NEWSSTREAM_KAFKA_PASSWORD": PASSWORD},
            "NEWSSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs NEWSSTREAM_KAFKA_USERNAME and NEWSSTREAM_KAFKA_PASSWORD",
        ),
        (
            {"NEWSSTREAM_KAFKA_USERNAME": "alice", "NEWSSTREAM_KAFKA_PASSWORD": PASSWORD},
            "NEWSSTREAM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT uses no SASL",
        ),
        ({"NEWSSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_TLS"}, "NEWSSTREAM_KAFKA_SECURITY_PROTOCOL: Input should be"),
        (
            {"NEWSSTREAM_KAFKA_SASL_MECHANISM": "GSSAPI"},
            "NEWSSTREAM_KAFKA_SASL_MECHANISM: Input should be 'PLAIN', 'SCRAM-SHA-256' or 'SCRAM-SHA-512'",
        ),
        (
            {"NEWSSTREAM_ELASTICSEARCH_API_KEY": ENCODED, "NEWSSTREAM_ELASTICSEARCH_USERNAME": "bob"},
            "are both set: choose one way to log in",
        ),
        ({"NEWSSTREAM_ELASTICSEARCH_PASSWORD": ES_PASSWORD}, "NEWSSTREAM_ELASTICSEARCH_USERNAME and"),
        ({"NEWSSTREAM_ELASTICSEARCH_CA_FINGERPRINT": "abc"}, "must be a SHA-256 fingerprint"),
        (
            {"NEWSSTREAM_ELASTICSEARCH_CLOUD_ID": "x:eA==", "NEWSSTREAM_ELASTICSEARCH_URL": "https://es:9200"},
            "NEWSSTREAM_ELASTICSEARCH_CLOUD_ID and NEWSSTREAM_ELASTICSEARCH_URL are both set",
        ),
        ({"NEWSSTREAM_KAFKA_CA_FILE": "/no/such/ca.pem"}, "NEWSSTREAM_KAFKA_CA_FILE: Path does not point to a file"),
    ],
)
def test_invalid_or_contradictory_settings_fail_in_one_line_naming_the_variables(monkeypatch, env, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError) as info:
        get_settings()
    text = str(info.value)
    assert expected in text
    assert "\n" not in text
    assert PASSWORD not in text and ES_PASSWORD not in text and ENCODED not in text
    if "CA_FILE" in expected:
        assert "/no/such/ca.pem" in text  # a path is named; no other value is echoed


def test_settings_built_directly_never_show_the_values_given_in_an_error():
    with pytest.raises(ConfigurationError) as info:
        Settings(
            elasticsearch_url="https://bob:hunter2@es.example:9200",
            kafka_password=PASSWORD,
            elasticsearch_api_key=ENCODED,
            partitions="many",
        )
    text = str(info.value)
    assert "NEWSSTREAM_PARTITIONS: Input should be a valid integer" in text
    for secret in (PASSWORD, ENCODED, "hunter2", "many"):
        assert secret not in text
    with pytest.raises(ConfigurationError, match="NEWSSTREAM_ELASTICSEARCH_URL holds a user name or password") as info:
        Settings(elasticsearch_url="https://bob:hunter2@es.example:9200")
    assert "hunter2" not in str(info.value)
    # several nodes' URLs: each is checked, not only the first
    with pytest.raises(ConfigurationError, match="NEWSSTREAM_ELASTICSEARCH_URL holds a user name or password") as info:
        Settings(elasticsearch_url="https://es1.example:9200,https://bob:hunter2@es2.example:9200")
    assert "hunter2" not in str(info.value)


def test_tls_files_with_a_protocol_without_tls_are_refused(pki):
    with pytest.raises(ConfigurationError, match=r"NEWSSTREAM_KAFKA_CA_FILE set but .*PLAINTEXT uses no TLS"):
        Settings(kafka_ca_file=pki["ca"])
    with pytest.raises(ConfigurationError, match=r"NEWSSTREAM_ELASTICSEARCH_CA_FILE set but .* is not https://"):
        Settings(elasticsearch_ca_file=pki["ca"])
    with pytest.raises(ConfigurationError, match=r"NEWSSTREAM_ELASTICSEARCH_CA_FILE set but .* is not https://"):
        Settings(elasticsearch_ca_file=pki["ca"], elasticsearch_url="https://es1:9200,http://es2:9200")
    both = Settings(elasticsearch_ca_file=pki["ca"], elasticsearch_url="https://es1:9200, https://es2:9200")
    assert es_client.connection_options(both)["hosts"] == ["https://es1:9200", "https://es2:9200"]


def test_the_cli_says_what_is_wrong_with_the_settings_in_one_line(tmp_path):
    out = run_cli(
        {"NEWSSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "NEWSSTREAM_KAFKA_PASSWORD": PASSWORD},
        "search",
        "x",
        timeout=60,
    )
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "error: settings: NEWSSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs NEWSSTREAM_KAFKA_USERNAME and "
        "NEWSSTREAM_KAFKA_PASSWORD"
    ]
    assert PASSWORD not in out.stdout + out.stderr


# ---------------------------------------------------------------- Kafka clients


def test_plaintext_kafka_options_are_as_before():
    s = Settings(kafka_bootstrap="127.0.0.1:9092")
    assert kafka.connection_options(s) == {"bootstrap_servers": ["127.0.0.1:9092"], "security_protocol": "PLAINTEXT"}
    assert kafka.faust_broker_options(s) == {"broker": ["kafka://127.0.0.1:9092"], "broker_credentials": None}
    assert kafka.ssl_context(s) is None


def test_sasl_ssl_gives_kafka_python_and_faust_the_same_login_and_a_verifying_tls_context(pki):
    s = _sasl_ssl(kafka_ca_file=pki["ca"])
    options = kafka.connection_options(s)
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == ("SCRAM-SHA-512", "alice")
    assert options["sasl_plain_password"] == PASSWORD
    assert PASSWORD not in repr(options)  # kafka-python logs its configuration dict at DEBUG
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("organizationName", "newsstream local"),), (("commonName", "newsstream local CA"),))
    ]
    broker = kafka.faust_broker_options(s)
    assert broker["broker"] == ["kafka://b1.example:9096", "kafka://b2.example:9096"]
    credentials = broker["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert PASSWORD not in repr(credentials)
    # what faust hands aiokafka for every consumer, producer and topic creation of the worker
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("alice", PASSWORD)
    assert auth["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_ssl_with_a_client_certificate_and_an_encrypted_key(pki):
    s = Settings(
        kafka_security_protocol="SSL",
        kafka_ca_file=pki["ca"],
        kafka_client_cert=pki["cert"],
        kafka_client_key=pki["encrypted_key"],
        kafka_client_key_password="key-pw-91",
    )
    options = kafka.connection_options(s)
    assert options["security_protocol"] == "SSL" and "sasl_mechanism" not in options
    auth = credentials_to_aiokafka_auth(kafka.faust_broker_options(s)["broker_credentials"])
    assert auth["security_protocol"] == "SSL"
    wrong = Settings(**{**s.model_dump(), "kafka_client_key_password": "not-it"})
    with pytest.raises(ConfigurationError, match="NEWSSTREAM_KAFKA_CLIENT_KEY_PASSWORD") as info:
        kafka.ssl_context(wrong)
    assert "not-it" not in str(info.value) and "key-pw-91" not in str(info.value)


def test_a_ca_file_that_is_no_certificate_is_named(pki):
    s = Settings(kafka_security_protocol="SSL", kafka_ca_file=pki["not_pem"])
    with pytest.raises(ConfigurationError, match=r"NEWSSTREAM_KAFKA_CA_FILE: .*not\.pem holds no PEM certificate"):
        kafka.connection_options(s)


def test_verification_can_be_turned_off_explicitly_only():
    assert Settings().kafka_verify_certs and Settings().elasticsearch_verify_certs
    context = kafka.ssl_context(Settings(kafka_security_protocol="SSL", kafka_verify_certs=False))
    assert context is not None and context.verify_mode == ssl.CERT_NONE and not context.check_hostname


# ---------------------------------------------------------------- Elasticsearch clients


def test_elasticsearch_options_for_an_api_key_pair_or_encoded_key_and_basic_auth(pki):
    url = "https://es.example:9200"
    pair = es_client.connection_options(
        Settings(
            elasticsearch_url=url, elasticsearch_api_key=f"{API_KEY_ID}:{API_KEY}", elasticsearch_ca_file=pki["ca"]
        )
    )
    assert pair == {"hosts": [url], "api_key": (API_KEY_ID, API_KEY), "ca_certs": str(pki["ca"])}
    encoded = es_client.connection_options(Settings(elasticsearch_url=url, elasticsearch_api_key=ENCODED))
    assert encoded == {"hosts": [url], "api_key": ENCODED}
    basic = es_client.connection_options(
        Settings(
            elasticsearch_url=url,
            elasticsearch_username="bob",
            elasticsearch_password=ES_PASSWORD,
            elasticsearch_ca_fingerprint="AB:" * 31 + "AB",
            elasticsearch_client_cert=pki["cert"],
            elasticsearch_client_key=pki["key"],
        )
    )
    assert basic == {
        "hosts": [url],
        "basic_auth": ("bob", ES_PASSWORD),
        "ssl_assert_fingerprint": "ab" * 32,
        "client_cert": str(pki["cert"]),
        "client_key": str(pki["key"]),
    }
    assert es_client.connection_options(Settings()) == {"hosts": ["http://127.0.0.1:9200"]}


def test_a_cloud_id_replaces_the_url_and_is_named_in_messages():
    cloud_id = "news-prod:" + base64.b64encode(b"europe-west1.gcp.cloud.es.io:443$abc123$def456").decode()
    s = Settings(elasticsearch_cloud_id=cloud_id, elasticsearch_api_key=ENCODED)
    assert es_client.connection_options(s) == {"cloud_id": cloud_id, "api_key": ENCODED}
    client = es_client.sync_client(s)
    try:
        node = next(iter(client.transport.node_pool.all())).config
        assert (node.scheme, node.host, node.port) == ("https", "abc123.europe-west1.gcp.cloud.es.io", 443)
    finally:
        client.close()
    assert (
        es_client.address(s) == "Elastic Cloud deployment 'news-prod' (https://abc123.europe-west1.gcp.cloud.es.io:443)"
    )


def test_kibana_gets_the_same_credentials_as_an_authorization_header():
    assert es_client.authorization_header(Settings()) is None
    pair = Settings(elasticsearch_api_key=f"{API_KEY_ID}:{API_KEY}")
    assert es_client.authorization_header(pair) == f"ApiKey {ENCODED}"
    assert es_client.authorization_header(Settings(elasticsearch_api_key=ENCODED)) == f"ApiKey {ENCODED}"
    basic = Settings(elasticsearch_username="bob", elasticsearch_password=ES_PASSWORD)
    assert es_client.authorization_header(basic) == "Basic " + base64.b64encode(f"bob:{ES_PASSWORD}".encode()).decode()
