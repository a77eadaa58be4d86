"""Ports, node counts and heaps of the local services' layouts (no process started)."""

from __future__ import annotations

import pytest

from streams.local import layout as lay
from streams.local.exceptions import ServiceError
from streams.local.layout import Layout
from streams.settings import Settings


def settings(**kw) -> Settings:
    base = {"kafka_bootstrap": "127.0.0.1:9092", "elasticsearch_url": "http://127.0.0.1:9200"}
    return Settings(**{**base, **kw})


def test_default_layout_keeps_the_ports_of_one_open_node_each():
    s = settings()
    (k,) = lay.kafka_nodes(s, Layout())
    (e,) = lay.elasticsearch_nodes(s, Layout())
    assert (k.name, k.node_id, k.address, k.ports) == (
        "kafka",
        1,
        "127.0.0.1:9092",
        {"plaintext": 9092, "controller": 9093},
    )
    assert (e.name, e.node_name, e.address) == ("elasticsearch", "newsstream-1", "http://127.0.0.1:9200")
    assert e.ports == {"http": 9200, "transport": 9202}


def test_secure_cluster_ports_derive_from_the_two_base_ports():
    s = settings(kafka_bootstrap="127.0.0.1:59092,127.0.0.1:1", elasticsearch_url="http://127.0.0.1:59200/")
    layout = Layout(kafka_brokers=3, elasticsearch_nodes=2, secure=True)
    kafka = lay.kafka_nodes(s, layout)
    assert [n.name for n in kafka] == ["kafka", "kafka-2", "kafka-3"]
    assert [n.ports for n in kafka][2] == {
        "plaintext": 59112,
        "controller": 59113,
        "sasl_ssl": 59114,
        "ssl": 59115,
        "sasl_plaintext": 59116,
    }
    assert lay.bootstrap_servers(s, layout, "sasl_ssl") == "127.0.0.1:59094,127.0.0.1:59104,127.0.0.1:59114"
    assert lay.bootstrap_servers(s, layout, "sasl_plaintext") == "127.0.0.1:59096,127.0.0.1:59106,127.0.0.1:59116"
    es = lay.elasticsearch_nodes(s, layout)
    assert [(n.name, n.node_name) for n in es] == [
        ("elasticsearch", "newsstream-1"),
        ("elasticsearch-2", "newsstream-2"),
    ]
    assert es[1].ports == {"http": 59210, "https": 59211, "transport": 59212}
    lay.check_ports(s, layout)  # no collision


def test_colliding_base_ports_are_refused_naming_both_processes():
    s = settings(kafka_bootstrap="127.0.0.1:9200", elasticsearch_url="http://127.0.0.1:9210")
    with pytest.raises(ServiceError, match=r"port 9210 is wanted by both kafka-2 plaintext and elasticsearch http"):
        lay.check_ports(s, Layout(kafka_brokers=2))


@pytest.mark.parametrize("field,value", [("kafka_brokers", 0), ("kafka_brokers", 4), ("elasticsearch_nodes", 5)])
def test_node_counts_outside_1_to_3_are_refused(field, value):
    with pytest.raises(ServiceError, match=f"{field.replace('_', '-')} must be 1 to 3, not {value}"):
        Layout(**{field: value})


def test_cluster_nodes_get_small_heaps_unless_the_heap_is_set(monkeypatch):
    monkeypatch.delenv("NEWSSTREAM_KAFKA_HEAP", raising=False)
    monkeypatch.delenv("NEWSSTREAM_ELASTICSEARCH_HEAP", raising=False)
    s = Settings()
    assert lay.heap(s, "kafka", 1) == "1g"
    assert lay.heap(s, "kafka", 3) == lay.CLUSTER_HEAP == "512m"
    monkeypatch.setenv("NEWSSTREAM_ELASTICSEARCH_HEAP", "768m")
    assert lay.heap(Settings(), "elasticsearch", 2) == "768m"


def test_the_recorded_layout_round_trips_and_clears(tmp_path):
    s = settings(services_dir=tmp_path)
    assert lay.load(s) is None
    lay.save(s, Layout(3, 2, True))
    assert lay.load(s) == Layout(3, 2, True)
    lay.clear(s)
    assert lay.load(s) is None
