"""Consumer agents written as plain functions send what they send (issue 17, point 1), on the real Kafka;
plugins whose signature cannot work are refused when they load, with one line."""

from __future__ import annotations

import pytest

from streams import kafka
from streams.plugins import PluginError, load_consumer_agents, load_enrichers
from streams.publish import ensure_topics
from streams.settings import Settings
from tests.conftest import read_topic, run_cli, wait_for

PLUGINS = "tests.e2e.plugins_for_tests"


def test_a_plain_function_and_an_unawaited_async_send_really_publish(pipeline_env):
    _env, settings, start = pipeline_env
    out_topic = f"{settings.app_id}.plain-out"
    agents = f'["{PLUGINS}:plain_forward", "{PLUGINS}:async_unawaited"]'
    extra = {"NEWSSTREAM_AGENTS": agents, "PLAIN_TOPIC": out_topic}
    plain = start(only=["plain-forward"], **extra)
    unawaited = start(only=["async-unawaited"], **extra)
    ensure_topics(settings)
    producer = kafka.producer(settings)
    producer.send(settings.topic_raw, key=b"k", value=b"Harbour opens new ferry terminal").get(timeout=30)
    producer.close()

    messages = wait_for(
        lambda: (m := read_topic(settings, out_topic)) and len(m) >= 3 and m,
        120,
        what=f"3 messages on {out_topic}; logs:\n{plain.log_tail()}\n{unawaited.log_tail()}",
    )
    values = sorted(m.value for m in messages)
    assert values == sorted([b'{"first":"Harbour","how":"plain"}', b"Harbour", b'{"how":"async, not awaited"}'])
    assert {m.key for m in messages if m.value == b"Harbour"} == {b"plain-key"}
    for worker in (plain, unawaited):
        log = worker.log_tail(100_000)
        assert "was never awaited" not in log, log
        assert worker.alive()


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (
            "one_argument",
            "consumer agent one-argument from setting tests.e2e.plugins_for_tests:one_argument "
            "cannot be called as f(record, ctx): its signature is one_argument(record)",
        ),
        (
            "yields",
            "consumer agent yields from setting tests.e2e.plugins_for_tests:yields is a generator "
            "(yields(record, ctx)): what it yields would be lost",
        ),
    ],
)
def test_a_consumer_agent_whose_signature_cannot_work_is_refused_at_load(spec, reason):
    with pytest.raises(PluginError) as caught:
        load_consumer_agents(Settings(agents=[f"{PLUGINS}:{spec}"]))
    assert str(caught.value).startswith(reason)
    assert "\n" not in str(caught.value)


def test_an_async_enricher_is_refused_at_load():
    with pytest.raises(PluginError, match=r"^enricher async_enricher from setting .* is an async function"):
        load_enrichers(Settings(enrichers=[f"{PLUGINS}:async_enricher"]))


def test_the_worker_refuses_a_bad_plugin_in_one_line_before_it_starts(services):
    result = run_cli({"NEWSSTREAM_AGENTS": f'["{PLUGINS}:one_argument"]'}, "worker", timeout=120)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "newsstream worker: consumer agent one-argument from setting tests.e2e.plugins_for_tests:one_argument "
        "cannot be called as f(record, ctx): its signature is one_argument(record)"
    ], result.stderr
    listed = run_cli({"NEWSSTREAM_AGENTS": f'["{PLUGINS}:yields"]'}, "agents", "list", timeout=60)
    assert listed.returncode == 1
    assert listed.stderr.startswith("error: consumer agent yields from setting") and "Traceback" not in listed.stderr
