"""Starting a worker: connections checked, topics, index, plugins checked, then the faust worker(s).

Everything that can be wrong with the set-up (Kafka or Elasticsearch
unreachable, an untrusted certificate, refused credentials or SASL mechanism,
a plugin that cannot load, a plugin field that clashes with the index
mapping) fails here, at start, with one line naming what and why and a
non-zero exit, rather than as a client's reconnect loop or failed documents
later (:mod:`streams.startup`).

The built-in agents (parse, enrich, index) share the consumer group
``settings.app_id`` and run in this process. Each consumer agent plugin has a
consumer group of its own, so it runs in a child process of its own
(``newsstream worker --only NAME``): a plugin that is slow or crashes cannot
hold back our agents.

With ``NEWSSTREAM_METRICS_PORT`` set, the first process serves the metrics
of all of them, and ``/healthz`` and ``/readyz``, on that port
(:mod:`streams.observe`); its children write their metrics for it to serve.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from typing import Any, cast

import faust

from indexers.elasticsearch import client
from streams import kafka, logfilter, logs, metrics, observe
from streams.agents import Pipeline
from streams.app import Worker, create_app, create_topics
from streams.plugins import (
    BUILTIN_AGENTS,
    ConsumerAgent,
    PluginError,
    load_consumer_agents,
    load_enrichers,
)
from streams.plugins.running import register_consumer_agent
from streams.publish import ensure_topics_logged
from streams.settings import Settings
from streams.startup import (
    StartupError,
    check_connections,
    check_model,
    prepare,
    wait_for_group_coordinator,
)
from streams.topics import STAGE_INPUT, topic_names

log = logging.getLogger("newsstream.worker")


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _say(settings: Settings, line: str) -> None:
    """Tell what the worker runs: a plain line on stdout, or a log line when the log is JSON (one object a line)."""
    if settings.log_format == "json":
        log.info(line)
    else:
        print(line, flush=True)


def _run_faust(app: faust.App, settings: Settings, loglevel: str) -> None:
    worker = Worker(app, loglevel=loglevel, quiet=True, logging_config=logs.faust_logging_config(settings))
    worker.log_repeat_seconds = settings.log_repeat_seconds
    worker.execute_from_commandline()


def lag_groups(settings: Settings, plugin_agents: list[ConsumerAgent]) -> dict[str, list[str]]:
    """``{consumer group: [topic, ...]}`` of the built-in agents and of each plugin consumer agent."""
    names = topic_names(settings)
    groups = {settings.app_id: [names[key] for key in STAGE_INPUT.values()]}
    for agent in plugin_agents:
        groups.setdefault(agent.group, []).append(agent.topic_name(settings))
    return groups


def _start_endpoint(
    settings: Settings, stages: list[str], plugin_agents: list[ConsumerAgent]
) -> observe.Endpoint | None:
    """Start keeping metrics (and, in the first process, serving them); None without a metrics port."""
    try:
        return observe.start(settings, stages, lag_groups(settings, plugin_agents))
    except OSError as exc:
        raise SystemExit(
            f"newsstream worker: cannot serve metrics on NEWSSTREAM_METRICS_PORT={settings.metrics_port}: "
            f"{exc.strerror or exc}"
        ) from None


def _watch(
    endpoint: observe.Endpoint | None,
    app: faust.App,
    settings: Settings,
    indexes: bool,
    children: list[subprocess.Popen],
) -> None:
    """Give the endpoint its checks: the app's event loop and children (live); partitions, Kafka and,
    when this worker indexes, Elasticsearch (ready)."""
    if endpoint is None:
        if metrics.enabled() and observe.is_child():
            # the parent's /healthz reads these beats: a child's event loop that stops is a hung child

            async def heartbeat() -> None:
                observe.beat()

            app.timer(observe.HEARTBEAT_SECONDS)(heartbeat)
        return
    state = {"assigned": False}

    async def on_assigned(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        state["assigned"] = True

    async def on_revoked(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        state["assigned"] = False

    # faust's signal types name mode's own handler protocol; these take what it sends
    app.on_partitions_assigned.connect(cast(Any, on_assigned))
    app.on_partitions_revoked.connect(cast(Any, on_revoked))

    async def ping_target() -> None:  # /healthz pings the loop the agents run on
        endpoint.loop = asyncio.get_running_loop()

    app.task(ping_target)

    def partitions() -> tuple[bool, str]:
        if state["assigned"] and not app.rebalancing:
            return True, "the consumer group assigned this worker its partitions"
        return False, "waiting for the consumer group to assign partitions"

    def kafka_ok() -> tuple[bool, str]:
        ok = kafka.healthy(settings, timeout=2)
        return ok, "a broker answers" if ok else f"no broker answers at {settings.kafka_bootstrap}"

    def elasticsearch_ok() -> tuple[bool, str]:
        ok = client.healthy(settings, timeout=2)
        return ok, "the cluster is yellow or green" if ok else "the cluster does not answer, or is red"

    def children_ok() -> tuple[bool, str]:
        return _children_alive(children)

    endpoint.ready.clear()
    endpoint.ready["partitions"] = partitions
    endpoint.ready["kafka"] = kafka_ok
    if indexes:
        endpoint.ready["elasticsearch"] = elasticsearch_ok
    if children:
        endpoint.live["children"] = children_ok


def _children_alive(children: list[subprocess.Popen]) -> tuple[bool, str]:
    """Every child process runs, and its event loop beat within ``observe.HEARTBEAT_TIMEOUT`` seconds."""
    gone = [c.pid for c in children if c.poll() is not None]
    if gone:
        return False, f"child process(es) exited: pid {', '.join(map(str, gone))}"
    silent = {c.pid: s for c in children if (s := observe.silent_for(c.pid)) is not None}
    hung = {pid: s for pid, s in silent.items() if s > observe.HEARTBEAT_TIMEOUT}
    if hung:
        return False, "event loop silent: " + ", ".join(f"pid {pid} for {s:.0f} s" for pid, s in hung.items())
    starting = len(children) - len(silent)
    return True, f"{len(children)} child process(es) running" + (f", {starting} starting" if starting else "")


def run_plugin_agent(settings: Settings, agent: ConsumerAgent, loglevel: str) -> None:
    """Run one consumer agent plugin in this process, in its own consumer group (connections checked first)."""
    try:
        report = ensure_topics_logged(settings, agent.group)
    except Exception as exc:
        explained = client.explain(settings, exc)
        raise SystemExit(f"newsstream worker: cannot start: {explained[1] if explained else exc}") from None
    wait_for_group_coordinator(settings, agent.group)
    endpoint = _start_endpoint(settings, [agent.name], [agent])
    app = create_app(settings, app_id=agent.group, replication_factor=report.replication.factor)
    topics = create_topics(app, settings)
    register_consumer_agent(app, topics, settings, agent)
    _watch(endpoint, app, settings, False, [])
    _say(
        settings, f"newsstream worker: consumer agent {agent.name} on {agent.topic_name(settings)}, group {agent.group}"
    )
    try:
        _run_faust(app, settings, loglevel)
    finally:
        if endpoint is not None:
            endpoint.close()


def run_worker(settings: Settings, only: set[str] | None = None, loglevel: str = "info") -> None:
    """Run the built-in agents (or ``only`` those named) and the plugin agents.

    Raises:
        SystemExit: a name in ``only`` is no agent, or the start-up checks fail.
    """
    logs.configure_logging(settings, loglevel)
    logfilter.install(settings.log_repeat_seconds)
    # until faust's worker installs its own handlers, SIGTERM must still run the clean-up
    # below (stop the child processes, close the endpoint): Python's default ends the
    # process at once, and a child started meanwhile would be left running
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    for name in ("kafka", "elastic_transport", "urllib3", "aiokafka"):
        logging.getLogger(name).setLevel(logging.WARNING)  # a worker's log keeps the clients' warnings
    try:
        plugin_agents = {a.name: a for a in load_consumer_agents(settings)}
    except PluginError as exc:
        raise SystemExit(f"newsstream worker: {exc}") from None
    if only:
        unknown = only - set(BUILTIN_AGENTS) - set(plugin_agents)
        if unknown:
            raise SystemExit(
                f"newsstream worker: no agent named {', '.join(sorted(unknown))}; "
                f"agents: {', '.join([*BUILTIN_AGENTS, *plugin_agents])}"
            )
    builtins = [n for n in BUILTIN_AGENTS if only is None or n in only]
    plugins = [a for n, a in plugin_agents.items() if only is None or n in only]
    try:
        check_connections(settings, elasticsearch=bool(builtins))  # before any child process starts
    except StartupError as exc:
        raise SystemExit(f"newsstream worker: cannot start: {exc}") from None
    if not builtins and len(plugins) == 1:
        run_plugin_agent(settings, plugins[0], loglevel)
        return

    # the first process serves every process's metrics; the children write theirs for it
    try:
        enricher_names = [e.name for e in load_enrichers(settings, setup=False)]
    except PluginError as exc:
        raise SystemExit(f"newsstream worker: {exc}") from None
    endpoint = _start_endpoint(settings, [*builtins, *enricher_names, *(a.name for a in plugins)], plugins)
    child_env = {**os.environ, **observe.child_env()}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--only", a.name, "--loglevel", loglevel], env=child_env
        )
        for a in plugins
    ]
    if builtins and settings.worker_processes > 1:
        # more processes in the same consumer group: faust gives each a share
        # of the partitions, so NER runs on every core
        extra = [arg for name in builtins for arg in ("--only", name)]
        env = {**child_env, "NEWSSTREAM_WORKER_PROCESSES": "1"}
        children += [
            subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", *extra, "--loglevel", loglevel], env=env)
            for _ in range(settings.worker_processes - 1)
        ]
    try:
        if not builtins:
            if endpoint is not None:
                endpoint.ready.clear()  # ready once started: each child serves no endpoint of its own
                endpoint.live["children"] = lambda: _children_alive(children)
            for child in children:
                child.wait()
            return
        try:
            if "enrich" in builtins:
                check_model(settings)
            info = prepare(settings)
        except Exception as exc:
            explained = client.explain(settings, exc)  # an index the user may not create, say
            raise SystemExit(f"newsstream worker: cannot start: {explained[1] if explained else exc}") from None
        rep = info["topics"].replication
        _say(
            settings,
            f"newsstream worker: agents {', '.join(builtins)}; index {info['index']} (alias {settings.index_alias}, "
            f"{info['shards']} shard(s), {info['replicas']} replica(s)); topics replicated {rep.factor}x "
            f"(min.insync.replicas {rep.min_insync}); text analysis: {info['analysis']}; "
            f"enrichers: {', '.join(e.name for e in info['enrichers']) or 'none'}"
            + (f"; metrics, /healthz, /readyz on port {endpoint.port}" if endpoint is not None else ""),
        )
        app = create_app(settings, replication_factor=info["topics"].replication.factor)
        topics = create_topics(app, settings)
        pipeline = Pipeline(app, topics, settings, info["enrichers"])
        pipeline.register(set(builtins))
        _watch(endpoint, app, settings, "index" in builtins, children)
        _run_faust(app, settings, loglevel)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            observe.child_exited(child.pid)
        if endpoint is not None:
            endpoint.close()
