"""The demo's own steps (``newsstream demo``) on the real Kafka: the articles it waits for are the ones it publishes."""

from __future__ import annotations

from streams.cli.common import EXAMPLES
from streams.local.demo import expected_ids, publish_folder
from streams.records import decode_raw
from tests.conftest import read_topic


def test_the_demo_publishes_the_bundled_articles_it_then_waits_for(pipeline_env):
    _env, settings, _ = pipeline_env
    ids = expected_ids(EXAMPLES)
    assert ids == {"465d00d1af4502fddd4057161b30efba": "rfi-2023-02-28-blinken-kazakhstan.txt"}  # as in the README
    assert publish_folder(settings, EXAMPLES) == 1
    [message] = read_topic(settings, settings.topic_raw)
    assert decode_raw(message.value).source == "rfi-2023-02-28-blinken-kazakhstan.txt"
