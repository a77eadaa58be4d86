"""The local cluster for real: three KRaft brokers and two Elasticsearch nodes (``cluster_services``),
replicated topics, kill -9 and restart of one node, and its secure endpoints on every node."""

from __future__ import annotations

import time
import uuid

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from streams.local import services as svc
from tests.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.cluster]


def _admin(settings) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=svc.kafka_bootstrap_servers(settings), request_timeout_ms=30000)


def _partitions(admin: KafkaAdminClient, topic: str) -> list[dict]:
    (described,) = admin.describe_topics([topic])
    return sorted(described["partitions"], key=lambda p: p["partition_index"])


def test_three_brokers_and_two_elasticsearch_nodes_report_themselves(cluster_services):
    settings = cluster_services
    admin = _admin(settings)
    try:
        brokers = admin.describe_cluster()["brokers"]
        assert sorted((b["broker_id"], b["port"]) for b in brokers) == [
            (n.node_id, n.ports["plaintext"]) for n in svc.nodes(settings) if n.service == "kafka"
        ]
        for broker in ("1", "2", "3"):
            found = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, broker)], config_filter="all")
            config = {k: v["value"] for k, v in found["broker"][broker].items()}
            names = ("default.replication.factor", "min.insync.replicas", "offsets.topic.replication.factor")
            assert [config[n] for n in names] == ["3", "2", "3"]
            assert config["transaction.state.log.min.isr"] == "2"
    finally:
        admin.close()
    health = Elasticsearch(settings.elasticsearch_url).cluster.health()
    assert (health["number_of_nodes"], health["number_of_data_nodes"]) == (2, 2)
    states = {s.name: s for s in svc.status(settings)}
    assert sorted(states) == ["elasticsearch", "elasticsearch-2", "kafka", "kafka-2", "kafka-3", "proxy"]
    assert all(s.healthy for s in states.values()), {n: s.healthy for n, s in states.items()}
    pids = [s.pid for s in states.values()]
    assert None not in pids and len(set(pids)) == len(pids)
    assert sum("elected master" in s.detail for s in states.values()) == 1


def test_a_topic_with_replication_factor_3_survives_kill_9_of_its_leader(cluster_services):
    settings = cluster_services
    topic = f"rf3-{uuid.uuid4().hex[:8]}"
    bootstrap = svc.kafka_bootstrap_servers(settings)
    admin = _admin(settings)
    try:
        admin.create_topics([NewTopic(topic, 2, 3)])  # min.insync.replicas 2 from the brokers' default
        wait_for(lambda: len(_partitions(admin, topic)) == 2, 30, what="the topic's metadata")
        assert all(len(p["replica_nodes"]) == 3 and len(p["isr_nodes"]) == 3 for p in _partitions(admin, topic))
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=10, request_timeout_ms=30000)
        for i in range(100):
            producer.send(topic, key=str(i).encode(), value=f"before-{i}".encode())
        producer.flush(timeout=60)
        leader = _partitions(admin, topic)[0]["leader_id"]
        leaders = svc.partition_leaders(settings, topic)
        assert leaders == {p["partition_index"]: p["leader_id"] - 1 for p in _partitions(admin, topic)}
        t0 = time.monotonic()
        assert svc.kill_node(settings, "kafka", leader - 1) is not None
        assert svc.node_pid(settings, "kafka", leader - 1) is None
        # acks=all still succeeds with 2 of 3 replicas in sync, once a new leader is elected
        futures = [producer.send(topic, key=str(i).encode(), value=f"during-{i}".encode()) for i in range(100)]
        for f in futures:
            f.get(timeout=120)
        failover = time.monotonic() - t0
        new_leader = _partitions(admin, topic)[0]["leader_id"]
        assert new_leader not in (leader, -1)
        svc.start_node(settings, "kafka", leader - 1, echo=lambda m: None)
        wait_for(
            lambda: all(len(p["isr_nodes"]) == 3 for p in _partitions(admin, topic)),
            120,
            what="all 3 replicas back in sync",
        )
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        tps = [TopicPartition(topic, p) for p in (0, 1)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        values: list[bytes] = []
        deadline = time.monotonic() + 60
        while len(values) < 200 and time.monotonic() < deadline:
            values += [r.value for batch in consumer.poll(timeout_ms=1000).values() for r in batch]
        consumer.close()
        assert sorted(values) == sorted(
            [f"before-{i}".encode() for i in range(100)] + [f"during-{i}".encode() for i in range(100)]
        )
        print(f"[cluster] writes resumed {failover:.1f} s after kill -9 of broker {leader}")
    finally:
        admin.delete_topics([topic])
        admin.close()


def test_an_elasticsearch_node_killed_and_restarted_rejoins_with_its_replica(cluster_services):
    settings = cluster_services
    index = f"replicated-{uuid.uuid4().hex[:8]}"
    urls = svc.elasticsearch_urls(settings)
    es = Elasticsearch(urls, request_timeout=60)
    master = es.cat.master(h="node").body.strip()
    master_index = svc.elasticsearch_master(settings)
    assert master_index is not None and svc.nodes(settings)[3 + master_index].node_name == master
    # a two-node cluster survives losing the node outside its voting configuration: not the master
    victim = next(n for n in svc.nodes(settings) if n.service == "elasticsearch" and n.node_name != master)
    survivor = Elasticsearch(next(u for u in urls if u != victim.address), request_timeout=60)
    try:
        es.indices.create(index=index, settings={"number_of_shards": 2, "number_of_replicas": 1})
        es.cluster.health(index=index, wait_for_status="green", timeout="60s")
        es.bulk(
            operations=[x for i in range(50) for x in ({"index": {"_index": index, "_id": str(i)}}, {"n": i})],
            refresh=True,
        )
        assert svc.kill_node(settings, "elasticsearch", victim.index) is not None
        wait_for(lambda: survivor.cluster.health()["number_of_nodes"] == 1, 120, what="the cluster to drop the node")
        # every document is still there: the replicas on the survivor were promoted
        assert survivor.count(index=index)["count"] == 50
        svc.start_node(settings, "elasticsearch", victim.index, echo=lambda m: None)
        health = survivor.cluster.health(index=index, wait_for_status="green", timeout="120s")
        assert (health["status"], health["number_of_nodes"]) == ("green", 2)
    finally:
        survivor.options(ignore_status=404).indices.delete(index=index)


def test_secure_endpoints_answer_on_every_node(cluster_services):
    settings = cluster_services
    creds = svc.secure_credentials(settings)
    sasl = [n for n in creds.kafka_bootstrap_servers.split(",")]
    assert sasl == svc.kafka_bootstrap_servers(settings, "sasl_ssl").split(",") and len(sasl) == 3
    for address in sasl:  # each broker alone as the bootstrap server
        admin = KafkaAdminClient(
            bootstrap_servers=address,
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_plain_username=creds.kafka_username,
            sasl_plain_password=creds.kafka_password,
            ssl_cafile=str(creds.ca_file),
            bootstrap_timeout_ms=15000,
        )
        try:
            assert len(admin.describe_cluster()["brokers"]) == 3
        finally:
            admin.close()
    assert creds.elasticsearch_urls == svc.elasticsearch_urls(settings, secure=True)
    for url in creds.elasticsearch_urls:
        es = Elasticsearch(url, api_key=creds.api_key_encoded, ca_certs=str(creds.ca_file))
        assert es.cluster.health()["number_of_nodes"] == 2
