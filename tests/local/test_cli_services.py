"""`newsstream services up|status` options on the running single-node services (nothing new is started)."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.services


def _env(settings) -> dict[str, str]:
    return {
        "NEWSSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "NEWSSTREAM_ELASTICSEARCH_URL": settings.elasticsearch_url,
        "NEWSSTREAM_SERVICES_DIR": str(settings.services_dir),
    }


def test_up_again_reuses_the_running_services(services):
    out = run_cli(_env(services), "services", "up")
    assert out.returncode == 0, out.stderr
    assert "already running" in out.stdout


def test_another_node_count_while_nodes_run_is_one_line_error(services):
    out = run_cli(_env(services), "services", "up", "--kafka-brokers", "2")
    assert out.returncode == 1
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr
    assert "kafka" in out.stderr and ("services down" in out.stderr or "not started by newsstream" in out.stderr)


def test_node_counts_outside_1_to_3_are_refused_by_the_cli(services):
    out = run_cli(_env(services), "services", "up", "--elasticsearch-nodes", "4")
    assert out.returncode == 2 and "--elasticsearch-nodes" in out.stderr


def test_status_lists_each_process_with_its_pid(services):
    out = run_cli(_env(services), "services", "status")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert {"kafka", "elasticsearch"} <= set(lines)
    assert services.kafka_bootstrap.split(",")[0] in lines["kafka"] and "healthy" in lines["kafka"]
    assert services.elasticsearch_url.rstrip("/") in lines["elasticsearch"]
