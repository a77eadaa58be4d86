"""A healthy start logs no ERROR (issue 17, point 6): a worker started on a brand-new Kafka, as a user's first
``newsstream worker`` is, indexes an article and stops without one ERROR line or traceback in its log.

On a new cluster the first consumer group makes Kafka create ``__consumer_offsets``; until it exists,
aiokafka's group coordinator look-ups fail (retriable) and it logged each as an ERROR. The worker now waits
for its group's coordinator first (``streams.runner.wait_for_group_coordinator``)."""

from __future__ import annotations

import shutil
import uuid

import pytest

from streams.local import services as svc
from tests.conftest import RFI, Worker, indexed_docs, isolated_env, run_cli, settings_from, wait_for


@pytest.fixture
def fresh_kafka(services):
    """A Kafka node that has never seen a consumer group (its own folder and ports), beside the
    session's Elasticsearch; stopped and deleted afterwards."""
    name = f"fresh-kafka-{uuid.uuid4().hex[:6]}"
    settings = svc.sibling(services, name, 80, echo=lambda m: None)
    settings = settings.model_copy(update={"elasticsearch_url": services.elasticsearch_url})
    try:
        svc.up(settings, echo=lambda m: None)
        yield settings
    finally:
        svc.down(settings, echo=lambda m: None)
        shutil.rmtree(settings.services_dir, ignore_errors=True)


def test_a_first_start_on_a_new_cluster_logs_no_error(fresh_kafka, tmp_path):
    env = {**isolated_env("fresh"), "NEWSSTREAM_KAFKA_BOOTSTRAP": fresh_kafka.kafka_bootstrap}
    settings = settings_from(env)
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        published = run_cli(env, "publish", str(RFI))
        assert published.returncode == 0, published.stderr
        wait_for(lambda: indexed_docs(settings), 300, what="the article indexed")
    finally:
        worker.stop()
    log = worker.log.read_text(errors="replace")
    assert worker.proc is not None and worker.proc.returncode == 0, log[-3000:]
    errors = [line for line in log.splitlines() if "ERROR" in line or "Traceback" in line or "CRITICAL" in line]
    assert errors == [], "\n".join(errors)
    assert "Worker]: Ready" in log
