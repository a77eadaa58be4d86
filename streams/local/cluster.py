"""One node of the local services at a time: find it, stop it, kill -9 it, start it again.

For fault tests on the local cluster: kill -9 the broker that leads a
partition, restart the brokers one by one, kill -9 the Elasticsearch node that
holds primaries. A node is named by ``service`` (``"kafka"`` or
``"elasticsearch"``) and ``index`` (from 0, in the order of :func:`nodes`;
Kafka's ``node.id`` is ``index + 1``, the Elasticsearch ``node.name``
``newsstream-{index + 1}``), within the layout the last ``services up``
recorded.
"""

from __future__ import annotations

import time

from kafka import KafkaAdminClient

from streams.local import elasticsearch_nodes as es
from streams.local import kafka_nodes, processes, tls
from streams.local import layout as lay
from streams.local.exceptions import ServiceError
from streams.local.fetch import Echo, fetch
from streams.local.layout import Layout, Node
from streams.local.tls import SecureCredentials
from streams.settings import Settings


def current(settings: Settings) -> Layout:
    """The layout ``up`` recorded, or the default one (one open node each)."""
    return lay.load(settings) or Layout()


def nodes(settings: Settings) -> list[Node]:
    """The Kafka brokers, then the Elasticsearch nodes, of the current layout, with their ports."""
    layout = current(settings)
    return lay.kafka_nodes(settings, layout) + lay.elasticsearch_nodes(settings, layout)


def node(settings: Settings, service: str, index: int) -> tuple[Layout, Node]:
    """The layout and node ``index`` of ``service``. Raises :class:`ServiceError` when there is none."""
    layout = current(settings)
    found = lay.kafka_nodes(settings, layout) if service == "kafka" else lay.elasticsearch_nodes(settings, layout)
    if service not in ("kafka", "elasticsearch") or not 0 <= index < len(found):
        raise ServiceError(f"no {service} node {index}: the layout has {len(found)} (indexes count from 0)")
    return layout, found[index]


def pid(settings: Settings, service: str, index: int) -> int | None:
    """The pid of node ``index`` if newsstream started it and it runs."""
    return processes.read_pid(settings, node(settings, service, index)[1].name)


def kafka_bootstrap_servers(settings: Settings, listener: str = "plaintext") -> str:
    """``host:port`` of every broker on ``listener`` (``plaintext``, ``sasl_ssl``, ``ssl``, ``sasl_plaintext``),
    comma-separated."""
    return lay.bootstrap_servers(settings, current(settings), listener)


def elasticsearch_urls(settings: Settings, secure: bool = False) -> list[str]:
    """The URL of every Elasticsearch node (``https://`` through the proxy when ``secure``)."""
    found = lay.elasticsearch_nodes(settings, current(settings))
    if secure:
        return [f"https://{n.host}:{n.ports['https']}" for n in found]
    return [n.address for n in found]


def secure_credentials(settings: Settings) -> SecureCredentials:
    """The passwords, API key, CA and endpoints of ``up(secure=True)``. Raises :class:`ServiceError` before it."""
    return tls.read_credentials(settings)


def sibling(settings: Settings, name: str = "cluster", offset: int = 50, echo: Echo = print) -> Settings:
    """Settings for a second set of services beside ``settings``' (for example a test cluster).

    Its base ports are ``offset`` above (see :mod:`streams.local.layout` for
    what a layout uses above its base ports), its services folder is
    ``settings.services_dir / name``, and it shares the Kafka and
    Elasticsearch that :func:`fetch` unpacked for ``settings`` (fetched now if
    needed).
    """
    libs, es_home = fetch(settings, echo)
    khost, kport = lay.kafka_base(settings)
    ehost, eport = lay.elasticsearch_base(settings)
    child = settings.model_copy(
        update={
            "kafka_bootstrap": f"{khost}:{kport + offset}",
            "elasticsearch_url": f"http://{ehost}:{eport + offset}",
            "services_dir": settings.services_dir / name,
        }
    )
    child.services_dir.mkdir(parents=True, exist_ok=True)
    for target in (libs.parent, es_home):
        link = child.services_dir / target.name
        if not link.exists():
            link.unlink(missing_ok=True)
            link.symlink_to(target.resolve(), target_is_directory=True)
    return child


# ---------------------------------------------------------------- waiting


def wait_kafka(
    settings: Settings, layout: Layout, n: Node, timeout: float, tend: processes.Relauncher | None = None
) -> None:
    """Wait until broker ``n`` answers and, in a cluster, is registered (unfenced) with the controller.

    ``tend`` starts it (and the others of its ``up``) again if a port was taken."""

    def alive() -> bool:
        return processes.read_pid(settings, n.name) is not None or processes.port_open(n.host, n.ports["plaintext"])

    log = processes.log_path(settings, n.name)
    processes.wait_until(lambda: kafka_nodes.healthy(n.address), f"Kafka {n.name}", alive, log, timeout, tend)
    if layout.kafka_brokers > 1:
        processes.wait_until(
            lambda: n.node_id in kafka_nodes.broker_ids(n.address),
            f"Kafka {n.name} (joining)",
            alive,
            log,
            timeout,
            tend,
        )


def wait_elasticsearch(
    settings: Settings, layout: Layout, n: Node, timeout: float, tend: processes.Relauncher | None = None
) -> None:
    """Wait until node ``n`` answers yellow or green health and, in a cluster, all nodes have joined.

    ``tend`` starts it (and the others of its ``up``) again if a port was taken."""

    def alive() -> bool:
        return processes.read_pid(settings, n.name) is not None or processes.port_open(n.host, n.ports["http"])

    m = layout.elasticsearch_nodes
    processes.wait_until(
        lambda: es.health(n.address, timeout=5, wait_for_nodes=m if m > 1 else 0) is not None,
        f"Elasticsearch {n.name}",
        alive,
        processes.log_path(settings, n.name),
        timeout,
        tend,
    )


# ---------------------------------------------------------------- one node


def stop_node(settings: Settings, service: str, index: int, timeout: float = 60.0) -> bool:
    """Stop one node cleanly (SIGTERM: a broker hands its leaderships over first). True if it ran."""
    return processes.stop(settings, node(settings, service, index)[1].name, timeout)


def kill_node(settings: Settings, service: str, index: int) -> int | None:
    """kill -9 one node and its process group (no shutdown of any kind); return the pid, or None."""
    return processes.kill(settings, node(settings, service, index)[1].name)


def start_node(settings: Settings, service: str, index: int, timeout: float | None = None, echo: Echo = print) -> int:
    """Start one stopped or killed node of the current layout again and wait until it has rejoined.

    Returns its pid (the running one's when it already runs).

    Raises:
        ServiceError: it does not come back within ``timeout`` s (default
            ``settings.services_timeout_seconds``).
    """
    layout, n = node(settings, service, index)
    timeout = settings.services_timeout_seconds if timeout is None else timeout
    running = processes.read_pid(settings, n.name)
    libs, es_home = fetch(settings, echo)

    def launch() -> int:
        if service == "kafka":
            password = tls.read_credentials(settings).kafka_password if layout.secure else ""
            kafka_nodes.write_config(settings, layout, n, tls.tls_dir(settings), password)
            return kafka_nodes.start(settings, layout, n, libs)
        return es.start(settings, layout, n, es_home)

    if running is None:
        echo(f"starting {n.name} on {n.address} ...")
        running = launch()
    t0 = time.monotonic()
    tend = processes.Relauncher(settings, {n.name: launch})
    if service == "kafka":
        wait_kafka(settings, layout, n, timeout, tend)
    else:
        wait_elasticsearch(settings, layout, n, timeout, tend)
    echo(f"{n.name} is up on {n.address} ({time.monotonic() - t0:.0f} s)")
    return processes.read_pid(settings, n.name) or running


def restart_node(settings: Settings, service: str, index: int, timeout: float | None = None, echo: Echo = print) -> int:
    """:func:`stop_node` then :func:`start_node` (one step of a rolling restart); returns the new pid."""
    stop_node(settings, service, index)
    return start_node(settings, service, index, timeout, echo)


# ---------------------------------------------------------------- who is who


def elasticsearch_master(settings: Settings) -> int | None:
    """Index of the Elasticsearch node that is the elected master, asked of each node in turn, or None."""
    found = lay.elasticsearch_nodes(settings, current(settings))
    for n in found:
        name = es.master_name(n.address, timeout=3)
        if name:
            return next((m.index for m in found if m.node_name == name), None)
    return None


def elasticsearch_primaries(settings: Settings, index: str) -> dict[int, list[int]]:
    """``{node index: [shard numbers]}``: which node holds the started primary of each shard of ``index``
    (an alias names its index), asked of each node in turn.

    Raises:
        ServiceError: no node answers.
    """
    found = lay.elasticsearch_nodes(settings, current(settings))
    for n in found:
        rows = es.shards(n.address, index)
        if rows is None:
            continue
        by_name = {m.node_name: m.index for m in found}
        out: dict[int, list[int]] = {}
        for row in rows:
            if row.get("prirep") == "p" and row.get("state") == "STARTED" and row.get("node") in by_name:
                out.setdefault(by_name[row["node"]], []).append(int(row["shard"]))
        return {k: sorted(v) for k, v in out.items()}
    raise ServiceError(f"no Elasticsearch node answers for the shards of {index!r}")


def partition_leaders(settings: Settings, topic: str) -> dict[int, int]:
    """``{partition: index of the leading broker}`` of ``topic`` (-1 while a partition has no leader).

    Raises:
        ServiceError: the topic does not exist or no broker answers.
    """
    bootstrap = lay.bootstrap_servers(settings, current(settings))
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000, bootstrap_timeout_ms=10000)
        try:
            (described,) = admin.describe_topics([topic])
        finally:
            admin.close()
    except Exception as exc:  # reported in one line
        raise ServiceError(f"cannot describe topic {topic!r} at {bootstrap}: {exc}") from None
    if described.get("error_code"):
        raise ServiceError(f"cannot describe topic {topic!r} at {bootstrap}: error code {described['error_code']}")
    return {p["partition_index"]: (p["leader_id"] - 1 if p["leader_id"] >= 0 else -1) for p in described["partitions"]}
