"""Which local processes ``newsstream services up`` runs, and on which ports.

Every port derives from two settings, so that copies of the services (one per
developer on a shared machine, or a test cluster beside the default services)
never collide. ``KPORT`` is the port of the first address in
``settings.kafka_bootstrap`` (default 9092), ``EPORT`` the port of
``settings.elasticsearch_url`` (default 9200).

========================  =============  ==========================================
process                   port           what
========================  =============  ==========================================
Kafka node ``i`` (0..2)   KPORT+10i      PLAINTEXT: the open listener, as without
node.id ``i+1``                          ``--secure``; brokers replicate over it
                          KPORT+10i+1    CONTROLLER: the KRaft quorum
                          KPORT+10i+2    SASL_SSL (``--secure``): SCRAM-SHA-512,
                                         SCRAM-SHA-256 and PLAIN over TLS
                          KPORT+10i+3    SSL (``--secure``): TLS with a required
                                         client certificate
                          KPORT+10i+4    SASL_PLAINTEXT (``--secure``): SCRAM-SHA-512
                                         only, no TLS (a broker that refuses
                                         other mechanisms, as MSK's SCRAM does)
Elasticsearch node ``i``  EPORT+10i      HTTP: the open REST API
node.name                 EPORT+10i+1    HTTPS (``--secure``): nginx checks TLS
``newsstream-{i+1}``                     and credentials, proxies to EPORT+10i
                          EPORT+10i+2    transport (node to node)
========================  =============  ==========================================

So the defaults give Kafka 9092 (controller 9093) and Elasticsearch 9200 as
before; ``--secure`` adds 9094, 9095, 9096 and 9201; a three-broker cluster adds
9102/9112 (PLAINTEXT) and a second Elasticsearch node 9210.

The layout ``services up`` started (node counts, secure or not) is kept in
``SERVICES_DIR/run/layout.json`` until ``services down``, so that ``status``,
``down`` and a later ``up`` know what runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from streams.local.exceptions import ServiceError
from streams.settings import Settings

MAX_NODES = 3
KAFKA_STRIDE = 10
ES_STRIDE = 10
# A cluster's nodes get this heap unless NEWSSTREAM_KAFKA_HEAP / NEWSSTREAM_ELASTICSEARCH_HEAP
# is set: 3 brokers and 3 nodes at 512 MiB fit beside the default 1 GiB pair on a 24 GiB machine.
CLUSTER_HEAP = "512m"


@dataclass(frozen=True)
class Layout:
    """What ``services up`` runs: node counts (1..3 each) and the secure endpoints or not."""

    kafka_brokers: int = 1
    elasticsearch_nodes: int = 1
    secure: bool = False

    def __post_init__(self) -> None:
        for name in ("kafka_brokers", "elasticsearch_nodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 1 <= value <= MAX_NODES:
                raise ServiceError(f"{name.replace('_', '-')} must be 1 to {MAX_NODES}, not {value!r}")


@dataclass(frozen=True)
class Node:
    """One Kafka broker or Elasticsearch node of a layout, with its ports.

    ``index`` counts from 0; Kafka's ``node.id`` is ``index + 1`` and the
    Elasticsearch ``node.name`` is ``newsstream-{index + 1}``. ``ports`` maps
    listener names (``plaintext``, ``controller``, ``sasl_ssl``, ``ssl``, ``sasl_plaintext``;
    ``http``, ``https``, ``transport``) to port numbers; the secure ones only
    when the layout is secure.
    """

    service: str
    index: int
    host: str
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The process name: ``kafka``/``elasticsearch`` for the first node, then ``kafka-2`` ..."""
        return process_name(self.service, self.index)

    @property
    def node_id(self) -> int:
        return self.index + 1

    @property
    def node_name(self) -> str:
        return f"newsstream-{self.index + 1}" if self.service == "elasticsearch" else str(self.node_id)

    @property
    def address(self) -> str:
        """``host:port`` of the open listener (Kafka) or ``http://host:port`` (Elasticsearch)."""
        if self.service == "kafka":
            return f"{self.host}:{self.ports['plaintext']}"
        return f"http://{self.host}:{self.ports['http']}"


def process_name(service: str, index: int) -> str:
    """``kafka`` for broker 0, ``kafka-2`` for broker 1 (node.id 2), likewise for Elasticsearch."""
    return service if index == 0 else f"{service}-{index + 1}"


def _host_port(address: str, what: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    try:
        return host.strip("[]") or "127.0.0.1", int(port)
    except ValueError:
        raise ServiceError(f"{what}: no port in {address!r}") from None


def kafka_base(settings: Settings) -> tuple[str, int]:
    """``(host, KPORT)`` from the first address of ``settings.kafka_bootstrap``."""
    return _host_port(settings.kafka_bootstrap.split(",")[0], "NEWSSTREAM_KAFKA_BOOTSTRAP")


def elasticsearch_base(settings: Settings) -> tuple[str, int]:
    """``(host, EPORT)`` from ``settings.elasticsearch_url``."""
    url = re.sub(r"^[a-z]+://", "", settings.elasticsearch_url.split(",")[0].strip()).split("/", 1)[0]
    return _host_port(url, "NEWSSTREAM_ELASTICSEARCH_URL")


def kafka_nodes(settings: Settings, layout: Layout) -> list[Node]:
    """The brokers of ``layout``, in index order."""
    host, base = kafka_base(settings)
    nodes = []
    for i in range(layout.kafka_brokers):
        b = base + KAFKA_STRIDE * i
        ports = {"plaintext": b, "controller": b + 1}
        if layout.secure:
            ports |= {"sasl_ssl": b + 2, "ssl": b + 3, "sasl_plaintext": b + 4}
        nodes.append(Node("kafka", i, host, ports))
    return nodes


def elasticsearch_nodes(settings: Settings, layout: Layout) -> list[Node]:
    """The Elasticsearch nodes of ``layout``, in index order."""
    host, base = elasticsearch_base(settings)
    nodes = []
    for i in range(layout.elasticsearch_nodes):
        h = base + ES_STRIDE * i
        ports = {"http": h, "transport": h + 2}
        if layout.secure:
            ports["https"] = h + 1
        nodes.append(Node("elasticsearch", i, host, ports))
    return nodes


def check_ports(settings: Settings, layout: Layout) -> None:
    """Raise :class:`ServiceError` when two processes of ``layout`` would share a port."""
    seen: dict[int, str] = {}
    for node in kafka_nodes(settings, layout) + elasticsearch_nodes(settings, layout):
        for listener, port in node.ports.items():
            where = f"{node.name} {listener}"
            if not 0 < port < 65536:
                raise ServiceError(f"port {port} of {where} is out of range; change the base ports")
            if port in seen:
                raise ServiceError(
                    f"port {port} is wanted by both {seen[port]} and {where}: Kafka's and Elasticsearch's "
                    f"base ports (NEWSSTREAM_KAFKA_BOOTSTRAP, NEWSSTREAM_ELASTICSEARCH_URL) must be at least "
                    f"{max(KAFKA_STRIDE, ES_STRIDE) * MAX_NODES} apart"
                )
            seen[port] = where


def heap(settings: Settings, service: str, count: int) -> str:
    """Heap of each node: the setting for one node or when set explicitly, else :data:`CLUSTER_HEAP`."""
    name = "kafka_heap" if service == "kafka" else "elasticsearch_heap"
    if count == 1 or name in settings.model_fields_set:
        return getattr(settings, name)
    return CLUSTER_HEAP


def bootstrap_servers(settings: Settings, layout: Layout, listener: str = "plaintext") -> str:
    """Every broker's ``host:port`` on ``listener`` (``plaintext``, ``sasl_ssl``, ``ssl`` or ``sasl_plaintext``),
    comma-separated."""
    return ",".join(f"{n.host}:{n.ports[listener]}" for n in kafka_nodes(settings, layout))


# ---------------------------------------------------------------- the layout file


def _path(settings: Settings) -> Path:
    return settings.services_dir / "run" / "layout.json"


def load(settings: Settings) -> Layout | None:
    """The layout ``services up`` recorded, or None (never started, or ``down`` since)."""
    try:
        data = json.loads(_path(settings).read_text())
        return Layout(data["kafka_brokers"], data["elasticsearch_nodes"], bool(data["secure"]))
    except (OSError, ValueError, KeyError, TypeError, ServiceError):
        return None


def save(settings: Settings, layout: Layout) -> None:
    path = _path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(layout)) + "\n")


def clear(settings: Settings) -> None:
    _path(settings).unlink(missing_ok=True)
