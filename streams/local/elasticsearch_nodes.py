"""Local Elasticsearch: one node (``discovery.type: single-node``) or a cluster of 2-3.

Security is off on the nodes themselves (the Maven distribution has no
security module); ``--secure`` puts :mod:`streams.local.proxy` in front.
Every node of a cluster is master-eligible and holds data. A cluster of two
keeps only one of them in its voting configuration (Elasticsearch's rule for
two master-eligible nodes), so it survives losing the other one only; three
survive losing any one.

Files: one node keeps ``SERVICES_DIR/es-config``, ``es-data`` and ``es-tmp``;
a cluster of ``M`` keeps ``SERVICES_DIR/es-Mnodes/node-K/{config,data,tmp}``.
Logs go to ``SERVICES_DIR/logs/elasticsearch[-K]/`` and the console output to
``SERVICES_DIR/logs/elasticsearch[-K].log``. Elasticsearch refuses to run as
root: under root it runs as the system user :data:`streams.local.processes.ES_USER`,
created if missing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import orjson

from streams.local import layout as lay
from streams.local import processes
from streams.local.fetch import find_java
from streams.local.layout import Layout, Node
from streams.settings import Settings


def health(url: str, timeout: float = 5.0, wait_for_nodes: int = 0) -> dict | None:
    """``_cluster/health`` (waiting up to ``timeout`` s for yellow and ``wait_for_nodes``), or None."""
    query = f"wait_for_status=yellow&timeout={int(timeout)}s"
    if wait_for_nodes:
        query += f"&wait_for_nodes={wait_for_nodes}"
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/_cluster/health?{query}", timeout=timeout + 2) as resp:
            return orjson.loads(resp.read()) if resp.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def healthy(url: str, timeout: float = 5.0) -> bool:
    """Return True when the Elasticsearch cluster at ``url`` is yellow or green."""
    return health(url, timeout) is not None


def master_name(url: str, timeout: float = 5.0) -> str | None:
    """The ``node.name`` of the elected master, asked of the node at ``url``, or None."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/_cat/master?h=node", timeout=timeout) as resp:
            return resp.read().decode().strip() or None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def shards(url: str, index: str, timeout: float = 10.0) -> list[dict] | None:
    """``_cat/shards`` of ``index`` (``shard``, ``prirep`` ``p``/``r``, ``state``, ``node`` name), or None."""
    query = "format=json&h=shard,prirep,state,node"
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/_cat/shards/{index}?{query}", timeout=timeout) as resp:
            return orjson.loads(resp.read()) if resp.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


# ---------------------------------------------------------------- files


def node_dir(settings: Settings, layout: Layout, node: Node) -> Path | None:
    """``es-Mnodes/node-K`` of a cluster's node; None for a single node (its folders are the old ones)."""
    if layout.elasticsearch_nodes == 1:
        return None
    return settings.services_dir / f"es-{layout.elasticsearch_nodes}nodes" / f"node-{node.index + 1}"


def paths(settings: Settings, layout: Layout, node: Node) -> dict[str, Path]:
    """The node's ``config``, ``data``, ``tmp`` and ``logs`` folders."""
    base = node_dir(settings, layout, node)
    logs = settings.services_dir / "logs" / node.name
    if base is None:
        s = settings.services_dir
        return {"config": s / "es-config", "data": s / "es-data", "tmp": s / "es-tmp", "logs": logs}
    return {"config": base / "config", "data": base / "data", "tmp": base / "tmp", "logs": logs}


def fresh(settings: Settings, layout: Layout) -> bool:
    """True when no node of the layout has data yet: the cluster is to be bootstrapped."""
    for node in lay.elasticsearch_nodes(settings, layout):
        data = paths(settings, layout, node)["data"]
        if data.is_dir() and any(data.iterdir()):
            return False
    return True


def write_config(settings: Settings, layout: Layout, node: Node, es_home: Path, bootstrap: bool) -> Path:
    """Write the node's config folder (copied once from the distribution); return it.

    ``bootstrap``: name the initial master nodes (only for a cluster's very first start).
    """
    p = paths(settings, layout, node)
    for d in (p["data"], p["logs"], p["tmp"]):
        d.mkdir(parents=True, exist_ok=True)
    if not (p["config"] / "jvm.options").exists():
        shutil.copytree(es_home / "config", p["config"], dirs_exist_ok=True)
    nodes = lay.elasticsearch_nodes(settings, layout)
    lines = [
        "# written by newsstream services up",
        "cluster.name: newsstream",
        f"node.name: {node.node_name}",
        f"network.host: {node.host}",
        f"http.port: {node.ports['http']}",
        f"transport.port: {node.ports['transport']}",
        f"path.data: {p['data']}",
        f"path.logs: {p['logs']}",
        "xpack.security.enabled: false",
        "cluster.routing.allocation.disk.threshold_enabled: false",
        "action.destructive_requires_name: false",
    ]
    if len(nodes) == 1:
        lines.append("discovery.type: single-node")
    else:
        lines.append("discovery.seed_hosts: [" + ", ".join(f'"{n.host}:{n.ports["transport"]}"' for n in nodes) + "]")
        if bootstrap:
            lines.append("cluster.initial_master_nodes: [" + ", ".join(f'"{n.node_name}"' for n in nodes) + "]")
    (p["config"] / "elasticsearch.yml").write_text("\n".join(lines) + "\n")
    return p["config"]


# ---------------------------------------------------------------- start


def start(
    settings: Settings,
    layout: Layout,
    node: Node,
    es_home: Path,
    extra: dict[str, str] | None = None,
    bootstrap: bool = False,
) -> int:
    """Configure and start one node. Returns its pid (the launcher's; the server JVM is its child).

    ``extra`` adds node settings (``-E name=value``), for example a small
    ``thread_pool.write.queue_size`` in the back-pressure tests.
    """
    java = find_java(21, "NEWSSTREAM_ES_JAVA_HOME")
    conf = write_config(settings, layout, node, es_home, bootstrap)
    p = paths(settings, layout, node)
    heap = lay.heap(settings, "elasticsearch", layout.elasticsearch_nodes)
    env = {
        **os.environ,
        "ES_JAVA_HOME": str(java.parent.parent),
        "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap} -XX:-AlwaysPreTouch",
        "ES_TMPDIR": str(p["tmp"]),
        "ES_PATH_CONF": str(conf),
    }
    env.pop("JAVA_HOME", None)
    cmd = [str(es_home / "bin" / "elasticsearch")]
    for key, value in (extra or {}).items():
        cmd += ["-E", f"{key}={value}"]
    user = None
    if os.geteuid() == 0:
        user = processes.ensure_es_user()
        owner = pwd.getpwnam(user).pw_uid
        for d in (es_home.resolve(), conf, p["data"], p["logs"], p["tmp"]):
            if d.stat().st_uid != owner or d != es_home.resolve():
                processes.chown_tree(d, user)
        base = node_dir(settings, layout, node)
        for d in [settings.services_dir] + ([base.parent, base] if base else []):
            os.chmod(d, 0o755)
    return processes.spawn(settings, node.name, cmd, env, es_home, user=user)
