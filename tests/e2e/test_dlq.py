"""Dead letters an operator can work through (issue 17, point 5), on the real Kafka:
``dlq show`` (source, time, stage, reason, filters, newest first, counts), ``dlq replay`` (dry run,
by reason or id, once per request, a replay that fails again is the next attempt of the same letter,
a plugin's letter back to that plugin only) and ``dlq discard``."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from streams import kafka
from streams.delivery.deadletters import read_letters
from streams.delivery.replay import read_actions
from streams.publish import ensure_topics
from streams.topics import replay_log
from tests.conftest import RFI, indexed_docs, read_topic, text_article, wait_for

runner = CliRunner()


def _cli(env, *args, code: int = 0) -> str:
    result = runner.invoke(__import__("streams.cli", fromlist=["app"]).app, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.stdout if code == 0 else result.stderr


def _shown(env, *args) -> list[dict]:
    return [orjson.loads(line) for line in _cli(env, "dlq", "show", "--json", *args).splitlines()]


def _publish(settings, *messages) -> None:
    ensure_topics(settings)
    producer = kafka.producer(settings)
    for key, value, headers in messages:
        producer.send(settings.topic_raw, key=key, value=value, headers=headers).get(timeout=30)
    producer.close()


EMPTY_ENVELOPE = orjson.dumps({"url": "https://x.test/empty", "source": "x-test"})
BINARY = b"\x00\x01\x02\xff\xfe binary junk \x00"
NO_TEXT = b"Nothing here"


def test_show_replay_and_discard(pipeline_env):
    env, settings, start = pipeline_env
    worker = start(only=["parse"])
    # one at a time, so that "newest first" has one answer
    for n, message in enumerate(
        [
            (b"empty", EMPTY_ENVELOPE, []),
            (b"binary", BINARY, [("url", b"https://x.test/binary")]),
            (b"notext", NO_TEXT, [("source", b"wire-feed")]),
        ],
        1,
    ):
        _publish(settings, message)
        wait_for(lambda n=n: len(read_letters(settings, timeout_s=2)) == n, 120, what=f"letter {n}")

    # show: newest first, with the article's URL or source, the time, stage and reason, and counts by reason
    shown = _shown(env)
    assert [c["reason"] for c in shown] == ["no article text", "binary input", "envelope without content"]
    assert [c["failed_at"] for c in shown] == sorted((c["failed_at"] for c in shown), reverse=True)
    assert [(c["url"], c["source"]) for c in shown] == [
        (None, "wire-feed"),
        ("https://x.test/binary", None),
        ("https://x.test/empty", "x-test"),
    ]
    assert {c["stage"] for c in shown} == {"parse"} and {c["attempts"] for c in shown} == {1}
    text = _cli(env, "dlq", "show")
    lines = text.splitlines()
    assert lines[0].split()[1:4] == [shown[0]["failed_at"], "parse", "no"] and lines[0].endswith("wire-feed")
    assert "https://x.test/binary" in lines[1] and "https://x.test/empty" in lines[2]
    assert "3 dead letter(s)" in text
    assert "on the topic: 3 open, 0 replayed, 0 discarded" in text
    for reason in ("no article text", "binary input", "envelope without content"):
        assert f"     1  {reason}" in text

    # filters
    assert [c["reason"] for c in _shown(env, "--reason", "NO ARTICLE")] == ["no article text"]
    assert _shown(env, "--since", "2999-01-01") == []
    assert len(_shown(env, "--since", shown[-1]["failed_at"])) == 3
    assert [c["id"] for c in _shown(env, "--id", shown[1]["id"])] == [shown[1]["id"]]
    assert len(_shown(env, "--stage", "parse")) == 3
    bogus = _cli(env, "dlq", "show", "--stage", "bogus", code=1)
    assert bogus.startswith("error: --stage 'bogus' is no stage: the stages are enrich, index, parse")
    assert "--since must be a date" in _cli(env, "dlq", "show", "--since", "2023-02-30", code=1)
    assert "--id must be PARTITION@OFFSET" in _cli(env, "dlq", "replay", "--id", "17", code=1)
    admin = kafka.admin(settings)
    assert not [g for g in admin.list_groups() if "bogus" in str(g)]  # no consumer group made for it
    admin.close()

    # a dry run says what it would do and sends nothing; letters the bytes alone decide are left alone
    raw_before = len(read_topic(settings, settings.topic_raw))
    dry = _cli(env, "dlq", "replay", "--dry-run")
    assert f"would replay {shown[0]['id']} (parse: no article text) to {settings.topic_raw}" in dry
    assert "left alone" in dry and "binary input: the same bytes would fail the same way" in dry
    assert "dry run: would replay 1 dead letter(s), 2 left alone" in dry
    assert len(read_topic(settings, settings.topic_raw)) == raw_before and read_actions(settings) == []

    # replay once per request: with the worker stopped, a second replay has nothing left to send
    worker.stop()
    assert "replayed 1 dead letter(s), 2 left alone" in _cli(env, "dlq", "replay")
    assert "replayed 0 dead letter(s)" in _cli(env, "dlq", "replay")
    replayed = read_topic(settings, settings.topic_raw)[raw_before:]
    assert [(m.key, m.value) for m in replayed] == [(b"notext", NO_TEXT)]
    headers = dict(replayed[0].headers)
    assert headers["source"] == b"wire-feed"  # the bare page's own header goes with it
    assert headers["newsstream-replay-to"] == b"parse" and headers["newsstream-replay-attempt"] == b"2"
    assert [a.action for a in read_actions(settings)] == ["replayed"]
    assert _cli(env, "dlq", "show", "--json").count("\n") == 2  # the replayed one is no longer open

    # it fails again: the same letter's second attempt, not a fourth letter
    worker = start(only=["parse"])
    wait_for(lambda: len(read_letters(settings, timeout_s=2)) == 4, 120, what=f"the 4th letter; {worker.log_tail()}")
    again = _shown(env)
    assert len(again) == 3
    assert (again[0]["id"], again[0]["attempts"], again[0]["status"]) == (shown[0]["id"], 2, "open")
    assert "attempt 2" in _cli(env, "dlq", "show").splitlines()[0]

    # naming a letter replays it even when its reason cannot change
    binary_id = shown[1]["id"]
    assert "replayed 1 dead letter(s)" in _cli(env, "dlq", "replay", "--id", binary_id)
    wait_for(lambda: len(read_letters(settings, timeout_s=2)) == 5, 120, what="the binary letter again")
    assert {c["id"]: c["attempts"] for c in _shown(env)}[binary_id] == 2

    # discard: handled without replaying; gone from the open list, still there with --all
    assert "discarded 1 dead letter(s)" in _cli(env, "dlq", "discard", "--reason", "envelope without content")
    assert [c["reason"] for c in _shown(env)] == ["binary input", "no article text"]
    everything = _shown(env, "--all")
    assert {c["status"] for c in everything} == {"open", "discarded"} and len(everything) == 3
    assert "--id, --reason, --stage or --since" in _cli(env, "dlq", "discard", code=1)
    assert [a.action for a in read_actions(settings)] == ["replayed", "replayed", "discarded"]
    assert replay_log(settings) == f"{settings.topic_dlq}.replays"


def test_a_plugin_letter_goes_back_to_that_plugin_only(pipeline_env):
    env, settings, start = pipeline_env
    extra = {
        "NEWSSTREAM_AGENTS": '["tests.e2e.plugins_for_tests:ferry_check"]',
        "FERRY_CHECK_TOPIC": f"{settings.app_id}.ferry",
    }
    env = {**env, **extra}
    parse = start(only=["parse"], **extra)
    plugin = start(only=["ferry-check"], **extra)
    article = text_article(
        "Ferry REFUSE terminal opens in Lisbon",
        ["The port authority of Lisbon opened a new ferry terminal on Monday after three years of work."],
    )
    _publish(settings, (b"ferry", article, []))
    [letter] = wait_for(lambda: read_letters(settings, timeout_s=2), 120, what=f"the letter; {plugin.log_tail()}")
    assert letter.letter.stage == "ferry-check" and letter.letter.topic == settings.topic_raw
    wait_for(lambda: len(read_topic(settings, settings.topic_parsed)) == 1, 120, what=f"parsed; {parse.log_tail()}")

    plugin.stop()  # so that the replayed letter cannot fail again before the second replay below
    assert "replayed 1 dead letter(s)" in _cli(env, "dlq", "replay", "--stage", "ferry-check")
    # issue 20, point 5: a replay without --stage does not send again what --stage replayed
    assert "replayed 0 dead letter(s)" in _cli(env, "dlq", "replay")
    plugin = start(only=["ferry-check"], **extra)
    wait_for(lambda: len(read_letters(settings, timeout_s=2)) == 2, 120, what="the plugin's second attempt")
    [chain] = _shown(env)
    assert (chain["stage"], chain["attempts"]) == ("ferry-check", 2)
    # the parse stage left the replayed message alone: still one parsed record
    assert len(read_topic(settings, settings.topic_parsed)) == 1
    assert parse.alive() and plugin.alive()


def test_an_enricher_letter_is_enriched_again_not_indexed_raw(pipeline_env, tmp_path):
    """Issue 20, point 5: an enricher plugin's letter goes back to the enrich stage (the parsed topic, for
    that enricher), so the replayed article is enriched by the built-in stage and the plugin, then indexed."""
    env, settings, start = pipeline_env
    flag = tmp_path / "moody-flag"
    flag.touch()
    extra = {"NEWSSTREAM_ENRICHERS": '["tests.e2e.plugins_for_tests:moody"]', "MOODY_FLAG": str(flag)}
    env = {**env, **extra}
    worker = start(**extra)
    _publish(settings, (b"rfi", RFI.read_bytes(), []))
    [letter] = wait_for(lambda: read_letters(settings, timeout_s=2), 180, what=f"the letter; {worker.log_tail()}")
    assert (letter.letter.stage, letter.letter.topic) == ("moody", settings.topic_parsed)
    assert indexed_docs(settings) == []

    flag.unlink()  # the operator fixes the cause, then replays every open letter (no --stage)
    assert "replayed 1 dead letter(s)" in _cli(env, "dlq", "replay")
    [hit] = wait_for(lambda: indexed_docs(settings), 180, what=f"the replayed article indexed; {worker.log_tail()}")
    doc = hit["_source"]
    assert doc["moody_checked"] is True  # the plugin ran on the replay
    assert "Antony Blinken" in doc["persons"] and doc["keywords"] and "KZ" in doc["countries"]  # enriched
    # one pass through enrich for the replay, none through parse; no new letter; nothing left to replay
    assert len(read_topic(settings, settings.topic_enriched)) == 1
    assert len(read_topic(settings, settings.topic_parsed)) == 2
    assert len(read_topic(settings, settings.topic_raw)) == 1
    assert len(read_letters(settings, timeout_s=2)) == 1
    assert "replayed 0 dead letter(s)" in _cli(env, "dlq", "replay")
    assert worker.alive()
