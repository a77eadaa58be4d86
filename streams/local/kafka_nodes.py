"""Local Apache Kafka (KRaft): one node, or a cluster of 2-3, each node broker and controller.

Every node is both broker and controller (``process.roles=broker,controller``)
with a static quorum of all nodes (``controller.quorum.voters``): three
processes for three brokers, and a quorum that survives losing one node. Nodes
replicate over the PLAINTEXT listener. With ``N`` brokers, internal topics and
newly created topics default to replication factor ``min(3, N)`` and
``min.insync.replicas`` one less (at least 1): 3 and 2 on three brokers.

Files: one node keeps ``SERVICES_DIR/kafka.properties`` and ``kafka-data``;
a cluster of ``N`` keeps ``SERVICES_DIR/kafka-Nbrokers/`` with ``cluster.id``
and ``node-ID/{server.properties,data}`` (a quorum's data cannot move to
another node count, so each count has its own).

``--secure`` adds a SASL_SSL listener (SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN;
user :data:`streams.local.tls.USER`) and an SSL listener that requires a client
certificate, both with the PEM keystore of :mod:`streams.local.tls`. The SCRAM
credentials are written through the PLAINTEXT listener with the Admin API
(AlterUserScramCredentials) at every ``up --secure``; they live in the
cluster metadata. PLAIN's password is in the properties file (mode 0600).

The health checks here probe one listener of one node with kafka-python
clients built for it (PLAINTEXT, or SASL_SSL with the generated credentials),
not with :mod:`streams.kafka`'s, which connect as the settings tell the
application to.
"""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import UserScramCredentialUpsertion

from streams.local import layout as lay
from streams.local import processes
from streams.local.exceptions import ServiceError
from streams.local.fetch import DEPLOY_LOCAL, find_java
from streams.local.layout import Layout, Node
from streams.local.tls import KAFKA_SASL_MECHANISMS, USER, SecureCredentials
from streams.settings import Settings


def _any_port_open(bootstrap: str) -> bool:
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        if port.isdigit() and processes.port_open(host.strip("[]") or "127.0.0.1", int(port)):
            return True
    return False


def healthy(bootstrap: str, timeout: float = 5.0) -> bool:
    """Return True when a Kafka broker at ``bootstrap`` answers a metadata request.

    False at once when no address accepts a connection (the client would retry until ``timeout``)."""
    if not _any_port_open(bootstrap):
        return False
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout * 1000),
            bootstrap_timeout_ms=int(timeout * 1000),
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
        return True
    except Exception:  # any failure (refused, timeout, protocol) means "not healthy yet"
        return False


def broker_ids(bootstrap: str, timeout: float = 5.0) -> set[int]:
    """The node ids of the live (unfenced) brokers the cluster reports, or an empty set."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout * 1000),
            bootstrap_timeout_ms=int(timeout * 1000),
        )
        try:
            brokers = admin.describe_cluster()["brokers"]
            return {int(b["broker_id"]) for b in brokers if not b.get("is_fenced")}
        finally:
            admin.close()
    except Exception:  # any failure means "no"
        return set()


def sasl_ok(creds: SecureCredentials, mechanism: str = "SCRAM-SHA-512", timeout: float = 5.0) -> bool:
    """True when the SASL_SSL listeners accept ``creds`` with ``mechanism`` over TLS checked against the CA."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=creds.kafka_bootstrap_servers,
            security_protocol="SASL_SSL",
            sasl_mechanism=mechanism,
            sasl_plain_username=creds.kafka_username,
            sasl_plain_password=creds.kafka_password,
            ssl_cafile=str(creds.ca_file),
            request_timeout_ms=int(timeout * 1000),
            bootstrap_timeout_ms=int(timeout * 1000),
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
        return True
    except Exception:  # any failure means "no"
        return False


def upsert_scram_user(bootstrap: str, creds: SecureCredentials) -> None:
    """Create or update the SCRAM-SHA-512 and SCRAM-SHA-256 credentials of ``creds.kafka_username``.

    Raises:
        ServiceError: the broker refused (the message names the user, never the password).
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    try:
        for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256"):  # one per request: Kafka refuses a user twice in one
            upsertion = UserScramCredentialUpsertion(creds.kafka_username, mechanism, creds.kafka_password)
            error = admin.alter_user_scram_credentials([upsertion]).get(creds.kafka_username)
            if error:
                raise ServiceError(
                    f"Kafka at {bootstrap} refused the {mechanism} user {creds.kafka_username!r}: {error}"
                )
    except ServiceError:
        raise
    except Exception as exc:  # any failure is reported in one line
        raise ServiceError(f"Kafka at {bootstrap} refused the SCRAM user {creds.kafka_username!r}: {exc}") from None
    finally:
        admin.close()


# ---------------------------------------------------------------- files


def cluster_dir(settings: Settings, layout: Layout) -> Path:
    return settings.services_dir / f"kafka-{layout.kafka_brokers}brokers"


def config_path(settings: Settings, layout: Layout, node: Node) -> Path:
    if layout.kafka_brokers == 1:
        return settings.services_dir / "kafka.properties"
    return cluster_dir(settings, layout) / f"node-{node.node_id}" / "server.properties"


def data_dir(settings: Settings, layout: Layout, node: Node) -> Path:
    if layout.kafka_brokers == 1:
        return settings.services_dir / "kafka-data"
    return cluster_dir(settings, layout) / f"node-{node.node_id}" / "data"


def _cluster_id(settings: Settings, layout: Layout) -> str:
    """A new random id for one node; one id, kept in ``cluster.id``, for all nodes of a cluster."""
    new = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if layout.kafka_brokers == 1:
        return new
    path = cluster_dir(settings, layout) / "cluster.id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new + "\n")
    return path.read_text().strip()


def write_config(settings: Settings, layout: Layout, node: Node, tls: Path | None, plain_password: str = "") -> Path:
    """Write the node's properties (mode 0600 when secure: PLAIN's password is in them); return the path."""
    nodes = lay.kafka_nodes(settings, layout)
    n = layout.kafka_brokers
    rf = min(3, n)
    min_isr = max(1, rf - 1)
    h = node.host
    listeners = [f"PLAINTEXT://{h}:{node.ports['plaintext']}", f"CONTROLLER://{h}:{node.ports['controller']}"]
    advertised = [f"PLAINTEXT://{h}:{node.ports['plaintext']}"]
    if layout.secure:
        secure = [
            f"SASL_SSL://{h}:{node.ports['sasl_ssl']}",
            f"SSL://{h}:{node.ports['ssl']}",
            f"SASL_PLAINTEXT://{h}:{node.ports['sasl_plaintext']}",
        ]
        listeners += secure
        advertised += secure
    lines = [
        "# written by newsstream services up",
        "process.roles=broker,controller",
        f"node.id={node.node_id}",
        "controller.quorum.voters=" + ",".join(f"{m.node_id}@{m.host}:{m.ports['controller']}" for m in nodes),
        "listeners=" + ",".join(listeners),
        "advertised.listeners=" + ",".join(advertised),
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        + (",SASL_SSL:SASL_SSL,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT" if layout.secure else ""),
        f"log.dirs={data_dir(settings, layout, node)}",
        f"offsets.topic.replication.factor={rf}",
        "offsets.topic.num.partitions=4",
        f"transaction.state.log.replication.factor={rf}",
        f"transaction.state.log.min.isr={min_isr}",
        f"share.coordinator.state.topic.replication.factor={rf}",
        f"num.partitions={settings.partitions}",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=true",
        "log.retention.hours=168",
        "message.max.bytes=16777216",
        "replica.fetch.max.bytes=16777216",
    ]
    if n > 1:
        lines += [
            "inter.broker.listener.name=PLAINTEXT",
            f"default.replication.factor={rf}",
            f"min.insync.replicas={min_isr}",
            f"share.coordinator.state.topic.min.isr={min_isr}",
        ]
    if layout.secure:
        if tls is None:
            raise ServiceError("internal: a secure Kafka node needs the tls folder")
        jaas = "org.apache.kafka.common.security"
        lines += [
            "sasl.enabled.mechanisms=" + ",".join(KAFKA_SASL_MECHANISMS),
            f'listener.name.sasl_ssl.plain.sasl.jaas.config={jaas}.plain.PlainLoginModule required user_{USER}="{plain_password}";',
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}.scram.ScramLoginModule required;",
            f"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={jaas}.scram.ScramLoginModule required;",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={tls / 'broker-keystore.pem'}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={tls / 'ca.pem'}",
            "listener.name.ssl.ssl.client.auth=required",
            # SCRAM-SHA-512 only here: a client asking for another mechanism gets the broker's refusal
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512",
            f"listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config={jaas}.scram.ScramLoginModule required;",
        ]
    path = config_path(settings, layout, node)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if layout.secure else 0o644)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- start


def format_storage(settings: Settings, layout: Layout, nodes: list[Node], libs: Path) -> None:
    """Format the storage of those ``nodes`` that have none (configs written first), all at once.

    Raises:
        ServiceError: the storage tool failed (with its output).
    """
    java = find_java(17, "NEWSSTREAM_KAFKA_JAVA_HOME")
    env = {**os.environ, "LOG_DIR": str(settings.services_dir / "logs")}
    running = []
    for node in nodes:
        if (data_dir(settings, layout, node) / "meta.properties").exists():
            continue
        cmd = [str(java), "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format", "-t", _cluster_id(settings, layout)]
        cmd += ["-c", str(config_path(settings, layout, node))]
        running.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env))
    for proc in running:  # one JVM each: together they take the time of one
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise ServiceError(f"formatting Kafka storage failed: {out[-3000:]}")


def start(settings: Settings, layout: Layout, node: Node, libs: Path) -> int:
    """Format the node's storage if needed (config written first) and start it. Returns its pid."""
    format_storage(settings, layout, [node], libs)
    java = find_java(17, "NEWSSTREAM_KAFKA_JAVA_HOME")
    conf = config_path(settings, layout, node)
    cp = f"{libs}/*"
    env = {**os.environ, "LOG_DIR": str(settings.services_dir / "logs")}
    heap = lay.heap(settings, "kafka", layout.kafka_brokers)
    cmd = [
        str(java),
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={DEPLOY_LOCAL / 'kafka-log4j2.yaml'}",
        "-cp",
        cp,
        "kafka.Kafka",
        str(conf),
    ]
    return processes.spawn(settings, node.name, cmd, env, settings.services_dir)
