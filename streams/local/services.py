"""Local Apache Kafka and Elasticsearch, fetched from Maven Central, run on the JDK.

``newsstream services up|down|status`` calls :func:`up`, :func:`down` and
:func:`status`. No Docker is needed: Maven fetches the pinned artifacts once
(:mod:`streams.local.fetch`), and the servers run detached, on loopback, with
small heaps, as processes whose pids are kept in ``SERVICES_DIR/run``.

* By default one Kafka node (KRaft, broker and controller) on
  ``settings.kafka_bootstrap`` and one Elasticsearch node on
  ``settings.elasticsearch_url``, open (no TLS, no credentials).
* ``kafka_brokers=N`` / ``elasticsearch_nodes=M`` (1..3): a KRaft cluster of N
  nodes (:mod:`streams.local.kafka_nodes`) and an Elasticsearch cluster of M
  (:mod:`streams.local.elasticsearch_nodes`).
* ``secure=True`` adds, to the same processes, Kafka SASL_SSL and SSL
  listeners and an HTTPS proxy with password and API key checks in front of
  each Elasticsearch node (:mod:`streams.local.proxy`); the open endpoints stay.
  Certificates and credentials: :mod:`streams.local.tls`, read with
  :func:`secure_credentials`.

Ports: :mod:`streams.local.layout`. Fault tests stop, kill -9 and restart one
node with :func:`stop_node`, :func:`kill_node` and :func:`start_node`, and find
which is which with :func:`nodes` and :func:`status`.

Errors: :class:`ServiceError` with a message that says what to install or
where the log is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from indexers.elasticsearch import client as es_client
from streams import kafka as streams_kafka
from streams.local import cluster, kafka_nodes, processes, proxy, tls
from streams.local import elasticsearch_nodes as es
from streams.local import layout as lay
from streams.local.cluster import (
    current,
    elasticsearch_master,
    elasticsearch_primaries,
    elasticsearch_urls,
    kafka_bootstrap_servers,
    kill_node,
    nodes,
    partition_leaders,
    restart_node,
    secure_credentials,
    sibling,
    start_node,
    stop_node,
)
from streams.local.cluster import pid as node_pid
from streams.local.exceptions import ServiceError
from streams.local.fetch import ES_ARTIFACT, ES_VERSION, KAFKA_VERSION, Echo, fetch, find_java
from streams.local.layout import Layout, Node
from streams.local.tls import SecureCredentials
from streams.settings import Settings

__all__ = [
    "ES_ARTIFACT",
    "ES_VERSION",
    "KAFKA_VERSION",
    "Layout",
    "Node",
    "SecureCredentials",
    "ServiceError",
    "ServiceState",
    "current",
    "down",
    "elasticsearch_healthy",
    "elasticsearch_master",
    "elasticsearch_primaries",
    "elasticsearch_urls",
    "fetch",
    "find_java",
    "kafka_bootstrap_servers",
    "kafka_healthy",
    "kill_node",
    "node_pid",
    "nodes",
    "partition_leaders",
    "restart_node",
    "secure_credentials",
    "sibling",
    "start_node",
    "status",
    "stop",
    "stop_node",
    "up",
]


def kafka_healthy(settings: Settings, timeout: float = 5.0) -> bool:
    """Return True when a Kafka broker of ``settings`` answers a metadata request (as every client connects)."""
    return streams_kafka.healthy(settings, timeout)


def elasticsearch_healthy(settings: Settings, timeout: float = 5.0) -> bool:
    """Return True when the Elasticsearch cluster of ``settings`` is yellow or green (as every client connects)."""
    return es_client.healthy(settings, timeout)


@dataclass
class ServiceState:
    """What :func:`status` reports of one process: ``node`` is None for the proxy."""

    name: str
    address: str
    healthy: bool
    pid: int | None
    detail: str = ""
    node: Node | None = field(default=None, repr=False)


# ---------------------------------------------------------------- up


def _resolve(settings: Settings, secure: bool, kafka_brokers: int | None, es_nodes: int | None) -> Layout:
    recorded = lay.load(settings)
    live = processes.running(settings)
    want = Layout(
        kafka_brokers or (recorded.kafka_brokers if recorded else 1),
        es_nodes or (recorded.elasticsearch_nodes if recorded else 1),
        secure or bool(recorded and recorded.secure),
    )
    for service, count, option in (
        ("kafka", want.kafka_brokers, "--kafka-brokers"),
        ("elasticsearch", want.elasticsearch_nodes, "--elasticsearch-nodes"),
    ):
        had = getattr(recorded, "kafka_brokers" if service == "kafka" else "elasticsearch_nodes", 1)
        if count != had and any(n == service or n.startswith(f"{service}-") for n in live):
            raise ServiceError(
                f"{service} runs here with {had} node(s), started by newsstream; {option} {count} needs "
                f"`newsstream services down` first"
            )
    lay.check_ports(settings, want)
    return want


def _hosts(settings: Settings) -> list[str]:
    return [lay.kafka_base(settings)[0], lay.elasticsearch_base(settings)[0]]


def _creds(settings: Settings, layout: Layout) -> SecureCredentials:
    """Make (once) the certificates and credentials and write the endpoints of ``layout``."""
    tls.ensure_certificates(settings, _hosts(settings))
    tls.write_credentials(
        settings,
        lay.bootstrap_servers(settings, layout, "sasl_ssl").split(","),
        lay.bootstrap_servers(settings, layout, "ssl").split(","),
        [f"https://{n.host}:{n.ports['https']}" for n in lay.elasticsearch_nodes(settings, layout)],
        lay.bootstrap_servers(settings, layout, "sasl_plaintext").split(","),
    )
    return tls.read_credentials(settings)


def _plan_kafka(settings: Settings, layout: Layout, echo: Echo) -> tuple[list[Node], list[Node]]:
    """Brokers to start and brokers to wait for (already starting on their port)."""
    start, wait = [], []
    for n in lay.kafka_nodes(settings, layout):
        ours = processes.read_pid(settings, n.name) is not None
        secure_ports = [n.ports[name] for name in ("sasl_ssl", "ssl", "sasl_plaintext") if layout.secure]
        if ours and not all(processes.port_open(n.host, p) for p in secure_ports):
            echo(f"restarting {n.name} to add its SASL_SSL, SSL and SASL_PLAINTEXT listeners ...")
            processes.stop(settings, n.name)
            start.append(n)
        elif kafka_nodes.healthy(n.address, timeout=3):
            if not ours and (layout.kafka_brokers > 1 or layout.secure):
                if layout.secure and layout.kafka_brokers == 1 and processes.port_open(n.host, n.ports["sasl_ssl"]):
                    continue
                raise ServiceError(
                    f"a Kafka broker not started by newsstream answers on {n.address}; it cannot join a cluster "
                    "or get secure listeners: stop it, or choose other ports (NEWSSTREAM_KAFKA_BOOTSTRAP)"
                )
        elif ours or processes.port_open(n.host, n.ports["plaintext"]):
            echo(f"waiting for the Kafka broker already on {n.address} ...")
            wait.append(n)
        else:
            start.append(n)
    return start, wait


def _plan_es(settings: Settings, layout: Layout, echo: Echo) -> tuple[list[Node], list[Node]]:
    start, wait = [], []
    for n in lay.elasticsearch_nodes(settings, layout):
        ours = processes.read_pid(settings, n.name) is not None
        if es.healthy(n.address, timeout=2):
            if not ours and layout.elasticsearch_nodes > 1:
                raise ServiceError(
                    f"an Elasticsearch not started by newsstream answers on {n.address}; it cannot join a "
                    "cluster: stop it, or choose other ports (NEWSSTREAM_ELASTICSEARCH_URL)"
                )
        elif ours or processes.port_open(n.host, n.ports["http"]):
            echo(f"waiting for the Elasticsearch already on {n.address} ...")
            wait.append(n)
        else:
            start.append(n)
    return start, wait


def up(
    settings: Settings,
    echo: Echo = print,
    es_extra: dict[str, str] | None = None,
    *,
    secure: bool = False,
    kafka_brokers: int | None = None,
    elasticsearch_nodes: int | None = None,
) -> dict[str, bool]:
    """Fetch (once), start and wait for the services; reuse the ones already healthy.

    ``kafka_brokers``/``elasticsearch_nodes`` (1..3; None: as recorded by the
    last ``up``, else 1) and ``secure`` (sticks until :func:`down`) choose the
    layout. A running Kafka started by newsstream without the secure
    listeners is restarted with them. ``es_extra`` adds ``-E`` settings to
    Elasticsearch nodes started now.

    Returns ``{"kafka": started_by_us, "elasticsearch": ..., "proxy": ...}``.

    Raises:
        ServiceError: a service cannot start within
            ``settings.services_timeout_seconds``, a count differs from the
            running one, nginx is missing for ``secure``, or ports collide.
    """
    layout = _resolve(settings, secure, kafka_brokers, elasticsearch_nodes)
    k_start, k_wait = _plan_kafka(settings, layout, echo)
    e_start, e_wait = _plan_es(settings, layout, echo)
    proxy_pid = processes.read_pid(settings, proxy.NAME)
    started = {"kafka": bool(k_start), "elasticsearch": bool(e_start), "proxy": False}
    if not (k_start or k_wait or e_start or e_wait or (layout.secure and proxy_pid is None)):
        lay.save(settings, layout)
        if layout.secure:  # endpoints up to date (secrets unchanged), SCRAM user written, all answering
            _secure_ready(settings, layout, _creds(settings, layout), settings.services_timeout_seconds)
        echo("Kafka and Elasticsearch are already running")
        return started
    if layout.secure:
        proxy.find_nginx()  # fail before starting anything
    lay.save(settings, layout)
    creds = _creds(settings, layout) if layout.secure else None
    libs, es_home = fetch(settings, echo) if (k_start or e_start) else (None, None)
    timeout = settings.services_timeout_seconds
    t0 = time.monotonic()
    if e_start:
        bootstrap = layout.elasticsearch_nodes > 1 and es.fresh(settings, layout)
        for n in e_start:
            echo(f"starting Elasticsearch {ES_VERSION} node {n.node_name} on {n.address} ...")
            es.start(settings, layout, n, es_home, es_extra, bootstrap=bootstrap)  # type: ignore[arg-type]
    tend = processes.Relauncher(
        settings, {n.name: _relauncher(settings, layout, n, libs, es_home, es_extra) for n in k_start + e_start}
    )
    for n in k_start:
        kafka_nodes.write_config(settings, layout, n, tls.tls_dir(settings), creds.kafka_password if creds else "")
    kafka_nodes.format_storage(settings, layout, k_start, libs)  # type: ignore[arg-type]
    for n in k_start:
        echo(f"starting Apache Kafka {KAFKA_VERSION} node {n.node_id} on {n.address} ...")
        kafka_nodes.start(settings, layout, n, libs)  # type: ignore[arg-type]
    if layout.secure and creds:
        conf = settings.services_dir / "proxy" / "nginx.conf"
        text = proxy.config_text(settings, layout, creds, tls.tls_dir(settings), settings.services_dir / "proxy")
        if proxy_pid is not None and (not conf.exists() or conf.read_text() != text):
            processes.stop(settings, proxy.NAME)
            proxy_pid = None
        if proxy_pid is None:
            proxy.start(settings, layout, creds, tls.tls_dir(settings))
            started["proxy"] = True
    for n in k_start + k_wait:
        cluster.wait_kafka(settings, layout, n, timeout, tend)
    if k_start or k_wait:
        echo(f"Kafka is up on {lay.bootstrap_servers(settings, layout)} ({time.monotonic() - t0:.0f} s)")
    for n in e_start + e_wait:
        cluster.wait_elasticsearch(settings, layout, n, timeout, tend)
    if e_start or e_wait:
        urls = ", ".join(n.address for n in lay.elasticsearch_nodes(settings, layout))
        echo(f"Elasticsearch is up on {urls} ({time.monotonic() - t0:.0f} s)")
    if layout.secure and creds:
        _secure_ready(settings, layout, creds, timeout)
        echo(
            f"secure endpoints are up: Kafka SASL_SSL {creds.kafka_bootstrap_servers}, Elasticsearch "
            f"{', '.join(creds.elasticsearch_urls)}; credentials in {creds.path}"
        )
    return started


def _relauncher(
    settings: Settings, layout: Layout, n: Node, libs: Any, es_home: Any, es_extra: dict[str, str] | None
) -> Callable[[], object]:
    """What starts node ``n`` again when its port was taken (its config and storage are in place)."""
    if n.service == "kafka":
        return lambda: kafka_nodes.start(settings, layout, n, libs)
    return lambda: es.start(settings, layout, n, es_home, es_extra)


def _secure_ready(settings: Settings, layout: Layout, creds: SecureCredentials, timeout: float) -> None:
    """Write the SCRAM user, then wait until SASL_SSL logins and every proxy answer."""
    first = lay.kafka_nodes(settings, layout)[0]
    kafka_nodes.upsert_scram_user(lay.bootstrap_servers(settings, layout), creds)
    log = processes.log_path(settings, first.name)
    processes.wait_until(lambda: kafka_nodes.sasl_ok(creds), "Kafka's SASL_SSL listener", lambda: True, log, timeout)

    def proxy_alive() -> bool:
        return processes.read_pid(settings, proxy.NAME) is not None

    for url in creds.elasticsearch_urls:
        processes.wait_until(
            lambda url=url: proxy.healthy(url, creds),  # type: ignore[misc]
            f"the proxy at {url}",
            proxy_alive,
            processes.log_path(settings, proxy.NAME),
            timeout,
            processes.Relauncher(
                settings, {proxy.NAME: lambda: proxy.start(settings, layout, creds, tls.tls_dir(settings))}
            ),
        )


# ---------------------------------------------------------------- down, stop, status


def _names(settings: Settings, service: str) -> list[str]:
    """Process names of ``service`` (``kafka``, ``elasticsearch``, ``proxy`` or one process name)."""
    if service not in ("kafka", "elasticsearch"):
        return [service]
    counts = {n.name for n in nodes(settings) if n.service == service}
    return sorted(counts | {n for n in processes.running(settings) if n == service or n.startswith(f"{service}-")})


def stop(settings: Settings, name: str, timeout: float = 60.0) -> bool:
    """Stop what ``up`` started of ``name``: every node of ``kafka`` or ``elasticsearch`` (together), the
    ``proxy``, or one process (``kafka-2``). SIGTERM, then SIGKILL after ``timeout`` s. True if any ran."""
    return bool(processes.stop_all(settings, _names(settings, name), timeout))


def down(settings: Settings, echo: Echo = print) -> None:
    """Stop every process newsstream started with these settings, and forget the layout.

    The data, certificates and credentials stay for the next ``up``.
    """
    processes.stop_all(settings, ["proxy"])
    services = _names(settings, "elasticsearch") + _names(settings, "kafka")
    others = [n for n in processes.running(settings) if n not in services]
    ran = processes.stop_all(settings, services + others)
    for name in services + others:
        if name in ran:
            echo(f"{name}: stopped")
        elif name in ("kafka", "elasticsearch"):
            echo(f"{name}: not running (started by newsstream)")
    lay.clear(settings)


def status(settings: Settings) -> list[ServiceState]:
    """Report each process of the current layout: address, health, pid (when newsstream started it),
    and in ``detail`` its secure endpoints and cluster role; never a secret."""
    layout = current(settings)
    states = []
    master = None
    if layout.elasticsearch_nodes > 1:
        master = next(filter(None, (es.master_name(u, timeout=2) for u in elasticsearch_urls(settings))), None)
    for n in nodes(settings):
        details = []
        if n.service == "kafka":
            ok = kafka_nodes.healthy(n.address, timeout=3)
            if layout.secure:
                details.append(
                    f"sasl_ssl {n.host}:{n.ports['sasl_ssl']}, ssl {n.host}:{n.ports['ssl']}, "
                    f"sasl_plaintext {n.host}:{n.ports['sasl_plaintext']}"
                )
        else:
            ok = es.healthy(n.address, timeout=2)
            if layout.secure:
                details.append(f"https://{n.host}:{n.ports['https']}")
            if master == n.node_name:
                details.append("elected master")
        if layout.kafka_brokers > 1 or layout.elasticsearch_nodes > 1:
            details.insert(0, f"node {n.node_name if n.service == 'elasticsearch' else n.node_id}")
        states.append(ServiceState(n.name, n.address, ok, processes.read_pid(settings, n.name), "; ".join(details), n))
    if layout.secure:
        try:
            creds: SecureCredentials | None = tls.read_credentials(settings)
        except ServiceError:
            creds = None
        urls = elasticsearch_urls(settings, secure=True)
        ok = bool(creds) and all(proxy.healthy(u, creds, timeout=3) for u in urls)  # type: ignore[arg-type]
        detail = f"credentials in {tls.credentials_path(settings)} (mode 0600)"
        states.append(ServiceState(proxy.NAME, ", ".join(urls), ok, processes.read_pid(settings, proxy.NAME), detail))
    return states
