"""Replication used properly, on the real clusters: topics with a replication factor and
``min.insync.replicas`` from the brokers the cluster reports, the index with replicas from its data
nodes, idempotent producers, and an existing topic or index that falls short reported at start."""

from __future__ import annotations

import pytest
from kafka import TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from indexers.elasticsearch.client import sync_client
from indexers.elasticsearch.template import ensure_index
from streams import kafka
from streams.local import services as svc
from streams.publish import ensure_topics, leader_topic
from streams.settings import Settings
from tests.conftest import Worker, _cleanup, isolated_env, run_cli, settings_from, wait_for
from tests.variants import variants


def _cluster_env(cluster: Settings, tag: str, **extra: str) -> dict[str, str]:
    return isolated_env(
        tag,
        NEWSSTREAM_KAFKA_BOOTSTRAP=svc.kafka_bootstrap_servers(cluster),
        NEWSSTREAM_ELASTICSEARCH_URL=",".join(svc.elasticsearch_urls(cluster)),
        NEWSSTREAM_SERVICES_DIR=str(cluster.services_dir),
        **extra,
    )


def _described(settings: Settings, names: list[str]) -> dict[str, dict]:
    """``{topic: {"partitions", "replicas" (the smallest count), "min_isr", "max_bytes"}}``."""
    admin = kafka.admin(settings)
    try:
        topics = {t["name"]: t for t in admin.describe_topics(names)}
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names], config_filter="all"
        )["topic"]
    finally:
        admin.close()
    return {
        n: {
            "partitions": len(topics[n]["partitions"]),
            "replicas": min(len(p["replica_nodes"]) for p in topics[n]["partitions"]),
            "min_isr": int(configs[n]["min.insync.replicas"]["value"]),
            "max_bytes": int(configs[n]["max.message.bytes"]["value"]),
        }
        for n in names
    }


@pytest.mark.services
def test_one_broker_one_node_gets_replication_1_and_no_index_replica(pipeline_env):
    _, settings, _ = pipeline_env
    report = ensure_topics(settings, single_partition=(leader_topic(settings.app_id),))
    assert (report.replication.factor, report.replication.min_insync, report.replication.brokers) == (1, 1, 1)
    names = [settings.topic_raw, settings.topic_dlq, leader_topic(settings.app_id)]
    got = wait_for(
        lambda: (lambda d: d if all(v["partitions"] for v in d.values()) else None)(_described(settings, names)), 30
    )
    assert [(got[n]["partitions"], got[n]["replicas"], got[n]["min_isr"]) for n in names] == [
        (2, 1, 1),
        (2, 1, 1),
        (1, 1, 1),
    ]
    info = ensure_index(sync_client(settings), settings.index_alias)
    assert (info["shards"], info["replicas"], info["mismatches"]) == (1, 0, [])


@pytest.mark.services
@pytest.mark.cluster
def test_three_brokers_give_replication_3_min_insync_2_and_two_nodes_an_index_replica(cluster_services):
    env = _cluster_env(cluster_services, "rf3", NEWSSTREAM_PARTITIONS="3", NEWSSTREAM_INDEX_SHARDS="2")
    settings = settings_from(env)
    try:
        report = ensure_topics(settings, single_partition=(leader_topic(settings.app_id),))
        assert (report.replication.factor, report.replication.min_insync, report.replication.brokers) == (3, 2, 3)
        names = [settings.topic_raw, settings.topic_parsed, settings.topic_enriched, settings.topic_dlq]
        assert sorted(report.created) == sorted([*names, leader_topic(settings.app_id)]) and report.mismatches == []
        got = wait_for(
            lambda: (lambda d: d if all(v["partitions"] for v in d.values()) else None)(
                _described(settings, [*names, leader_topic(settings.app_id)])
            ),
            30,
        )
        assert {(v["partitions"], v["replicas"], v["min_isr"]) for n, v in got.items() if n in names} == {(3, 3, 2)}
        assert got[names[0]]["max_bytes"] == settings.max_message_bytes + kafka.MESSAGE_OVERHEAD
        assert (got[leader_topic(settings.app_id)]["partitions"], got[leader_topic(settings.app_id)]["replicas"]) == (
            1,
            3,
        )
        # asked explicitly: a factor the cluster cannot give, an ISR above the factor: one line naming the setting
        with pytest.raises(ValueError, match=r"NEWSSTREAM_REPLICATION_FACTOR=4 but the cluster .* reports 3 broker"):
            ensure_topics(settings.model_copy(update={"replication_factor": 4}))
        with pytest.raises(ValueError, match="NEWSSTREAM_MIN_INSYNC_REPLICAS=3 is above the replication factor 2"):
            ensure_topics(settings.model_copy(update={"replication_factor": 2, "min_insync_replicas": 3}))

        es = sync_client(settings)
        info = ensure_index(es, settings.index_alias, shards=2)
        assert (info["shards"], info["replicas"], info["mismatches"]) == (2, 1, [])
        health = es.cluster.health(index=info["index"], wait_for_status="green", timeout="60s")
        assert (health["active_primary_shards"], health["active_shards"]) == (2, 4)
    finally:
        _cleanup(settings)


@pytest.mark.services
@pytest.mark.cluster
def test_existing_topics_and_index_short_of_what_is_asked_are_reported_at_start_one_line_each(
    cluster_services, tmp_path
):
    env = _cluster_env(cluster_services, "short", NEWSSTREAM_WORKER_PROCESSES="3", NEWSSTREAM_PARTITIONS="3")
    settings = settings_from(env)
    admin = kafka.admin(settings)
    try:
        # made by hand before newsstream ever ran: one partition, one replica, 100 kB messages, ISR 1
        admin.create_topics(
            {
                settings.topic_raw: {
                    "num_partitions": 1,
                    "replication_factor": 1,
                    "configs": {"max.message.bytes": "100000", "min.insync.replicas": "1"},
                }
            }
        )
        es = sync_client(settings)
        es.indices.create(
            index=f"{settings.index_alias}-v1",
            settings={"number_of_shards": 1, "number_of_replicas": 0},
            mappings={"dynamic": "strict", "properties": {"id": {"type": "keyword"}}},
            aliases={settings.index_alias: {"is_write_index": True}},
        )
        wait_for(lambda: _described(settings, [settings.topic_raw])[settings.topic_raw]["partitions"], 30)
        report = ensure_topics(settings)
        raw = settings.topic_raw
        assert report.mismatches == [
            f"topic {raw} has 1 partition(s), fewer than the 3 worker processes (NEWSSTREAM_WORKER_PROCESSES): "
            "2 will idle",
            f"topic {raw} has replication factor 1, lower than the 3 asked (NEWSSTREAM_REPLICATION_FACTOR): it "
            "survives the loss of 0 broker(s), not 2",
            f"topic {raw} takes messages up to 100000 bytes (max.message.bytes), less than the 8454144 newsstream "
            "may write (NEWSSTREAM_MAX_MESSAGE_BYTES + 65536): larger records are refused",
            f"topic {raw} has min.insync.replicas=1, lower than the 2 asked (NEWSSTREAM_MIN_INSYNC_REPLICAS): a "
            "write is acknowledged with 1 copy(ies)",
        ]
        assert report.created == [settings.topic_parsed, settings.topic_enriched, settings.topic_dlq]
        # the worker starts anyway, says each line in its log, and maps the fields the old index lacked
        worker = Worker({**env, "NEWSSTREAM_WORKER_PROCESSES": "1"}, tmp_path / "worker.log", ["parse"]).start()
        try:
            text = wait_for(
                lambda: (lambda t: t if "_on_partitions_assigned" in t or not worker.alive() else None)(
                    worker.log.read_text(errors="replace")
                ),
                180,
            )
            assert worker.alive(), text[-3000:]
            warned = [line for line in text.splitlines() if "WARNING newsstream.worker:" in line]
            assert [line.split("newsstream.worker: ", 1)[1] for line in warned] == [
                m.replace("the 3 worker", "the 1 worker").replace("2 will idle", "0 will idle")
                for m in report.mismatches
                if "worker processes" not in m
            ] + [
                f"index {settings.index_alias}-v1 has 0 replica(s), fewer than the 1 asked (NEWSSTREAM_INDEX_REPLICAS): "
                "losing a node holding a primary loses its documents until it returns"
            ], text[-3000:]
            assert (
                "raw_key"
                in es.indices.get_mapping(index=settings.index_alias)[f"{settings.index_alias}-v1"]["mappings"][
                    "properties"
                ]
            )
        finally:
            worker.stop()
    finally:
        admin.close()
        _cleanup(settings)


@pytest.mark.services
@pytest.mark.cluster
def test_publish_and_the_worker_produce_idempotently(cluster_services, tmp_path):
    env = _cluster_env(cluster_services, "idem", NEWSSTREAM_PARTITIONS="1")
    settings = settings_from(env)
    try:
        inputs = tmp_path / "in.jsonl"
        inputs.write_bytes(b"\n".join(value for _, value in variants(5, "idem")) + b"\n")
        out = run_cli(env, "publish", str(inputs))
        assert out.returncode == 0 and "published 5 article(s)" in out.stdout, out.stderr
        worker = Worker(env, tmp_path / "worker.log", ["parse"]).start()
        try:
            wait_for(
                lambda: _end(settings, settings.topic_parsed) >= 5, 180, what=f"5 parsed records; {worker.log_tail()}"
            )
        finally:
            worker.stop()
        admin = kafka.admin(settings)
        try:
            # the brokers keep a producer state (id, epoch, sequence) only for idempotent producers
            states = admin.describe_producers(
                [TopicPartition(settings.topic_raw, 0), TopicPartition(settings.topic_parsed, 0)]
            )
        finally:
            admin.close()
        ids = {tp.topic: [p.producer_id for p in state.active_producers] for tp, state in states.items()}
        assert len(ids[settings.topic_raw]) == 1 and ids[settings.topic_raw][0] >= 0, ids
        assert len(ids[settings.topic_parsed]) == 1 and ids[settings.topic_parsed][0] >= 0, ids
        assert ids[settings.topic_raw] != ids[settings.topic_parsed]
    finally:
        _cleanup(settings)


def _end(settings: Settings, topic: str) -> int:
    consumer = kafka.consumer(settings, None)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(tps).values()) if tps else 0
    finally:
        consumer.close()
