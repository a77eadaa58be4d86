"""Hostile input against a running worker, on the real Kafka and Elasticsearch (issue 20):
a poison message, invalid envelopes, a page nested 50,000 deep, canonical-link
spoofing, fragments, a gzip bomb, markup in search hits and loose dates."""

from __future__ import annotations

import asyncio
import gzip

import orjson

from indexers.elasticsearch.client import async_client, sync_client
from indexers.elasticsearch.template import ensure_index
from indexers.elasticsearch.writer import BulkWriter, to_document
from streams import kafka
from streams.delivery.deadletters import read_dead_letters
from streams.publish import ensure_topics
from streams.records import EnrichedArticle
from tests.conftest import indexed_docs, read_topic, run_cli, wait_for


def _article(i: int) -> dict:
    text = (
        f"Ferry line {i} opens in Lisbon\n\n"
        f"The harbour authority of Lisbon opened ferry line number {i} across the Tagus on Monday morning. "
        f"Officials said line {i} would carry commuters between the two banks every twenty minutes."
    )
    return {"url": f"https://news.example.com/ferries/{i}", "content_type": "text", "text": text}


def _send(settings, values: list[bytes]) -> None:
    ensure_topics(settings)
    producer = kafka.producer(settings)
    for value in values:  # one key: one partition, in this order
        producer.send(settings.topic_raw, key=b"k", value=value).get(timeout=30)
    producer.close()


def test_poison_messages_and_invalid_envelopes_are_dead_lettered_and_the_stream_goes_on(pipeline_env):
    _env, settings, start = pipeline_env
    worker = start()
    words = " ".join(f"word{i}" for i in range(300))
    deep = "<html><body>" + "<div>" * 50_000 + f"<p>{words}.</p>" + "</div>" * 50_000 + "</body></html>"
    bad = {
        # 100,000 nested brackets: the campaign's poison message, which froze all three agents
        b"[" * 100_000 + b"]" * 100_000: "no article text",
        b'{"url": "https://news.example.com/a", "text": "caf\xe9 ' + b"word " * 20 + b'"}': "invalid envelope",
        b'{"url": "https://news.example.com/b", "text": "A \\ud800 ' + b"word " * 20 + b'"}': "invalid envelope",
        orjson.dumps({"url": "https://news.example.com/c\u0000d", "text": "word " * 20}): "invalid url",
        orjson.dumps({"url": "file:///etc/passwd", "text": "word " * 20}): "invalid url",
        orjson.dumps({"url": "javascript:alert(1)", "text": "word " * 20}): "invalid url",
    }
    good = [orjson.dumps(_article(i)) for i in range(10)]
    deep_page = orjson.dumps({"url": "https://news.example.com/deep", "content_type": "html", "html": deep})
    _send(settings, [*bad, deep_page, *good])

    hits = wait_for(
        lambda: (h := indexed_docs(settings)) and len(h) == 11 and h,
        240,
        what=f"10 articles and the deep page indexed; log:\n{worker.log_tail()}",
    )
    urls = sorted(h["_source"]["url"] for h in hits)
    assert urls == sorted(
        [f"https://news.example.com/ferries/{i}" for i in range(10)] + ["https://news.example.com/deep"]
    )
    deep_doc = next(h["_source"] for h in hits if h["_source"]["url"].endswith("/deep"))
    assert deep_doc["word_count"] == 300  # it was rejected as "0 words of body"
    assert not any('"url"' in h["_source"]["body"] or '"text"' in h["_source"]["body"] for h in hits)

    letters = wait_for(
        lambda: (d := read_dead_letters(settings, timeout_s=2)) and len(d) == len(bad) and d, 60, what="the letters"
    )
    by_original = {letter.original_bytes(): letter for letter in letters}
    assert {value: by_original[value].reason for value in bad} == bad
    assert all(letter.stage == "parse" for letter in letters)
    assert "not UTF-8: byte 0xe9" in by_original[list(bad)[1]].detail
    assert "lone surrogate" in by_original[list(bad)[2]].detail
    assert worker.alive()


def test_canonical_links_to_other_sites_and_fragments_never_replace_another_article(pipeline_env):
    _env, settings, start = pipeline_env
    worker = start()
    body = "<p>{}</p>".format(
        "The council of Porto approved the new tram line on Tuesday after a long debate in the chamber. " * 4
    )
    victim = {
        "url": "https://victim.example.com/politics/tram",
        "content_type": "html",
        "html": f"<html><head><title>Tram line approved</title></head><body><article>{body}</article></body></html>",
    }
    spoof_body = body.replace("approved", "rejected").replace("Porto", "Braga")
    spoof = {
        "url": "https://attacker.example.net/x",
        "content_type": "html",
        "html": (
            '<html><head><title>Tram line rejected</title><link rel="canonical" '
            'href="https://victim.example.com/politics/tram"></head>'
            f"<body><article>{spoof_body}</article></body></html>"
        ),
    }
    one = {"url": "https://spa.example.org/app#!/story/1", "content_type": "text", "text": _article(1)["text"]}
    two = {"url": "https://spa.example.org/app#!/story/2", "content_type": "text", "text": _article(2)["text"]}
    _send(settings, [orjson.dumps(victim), orjson.dumps(spoof), orjson.dumps(one), orjson.dumps(two)])

    hits = wait_for(
        lambda: (h := indexed_docs(settings)) and len(h) == 4 and h, 240, what=f"4 documents; log:\n{worker.log_tail()}"
    )
    by_url = {h["_source"]["url"]: h["_source"] for h in hits}
    assert by_url["https://victim.example.com/politics/tram"]["title"] == "Tram line approved"
    assert "approved the new tram line" in by_url["https://victim.example.com/politics/tram"]["body"]
    assert by_url["https://attacker.example.net/x"]["title"] == "Tram line rejected"
    assert "ferry line number 1 " in by_url["https://spa.example.org/app#!/story/1"]["body"]
    assert "ferry line number 2 " in by_url["https://spa.example.org/app#!/story/2"]["body"]
    assert len({h["_id"] for h in hits}) == 4


def test_publish_names_a_gzip_bomb_and_sends_the_files_after_it(pipeline_env, tmp_path):
    env, settings, _ = pipeline_env
    first = tmp_path / "a.txt"
    first.write_text(_article(1)["text"])
    bomb = tmp_path / "b-bomb.html.gz"
    member = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)
    bomb.write_bytes(member * 32)  # expands to 2 GB
    last = tmp_path / "c.txt"
    last.write_text(_article(2)["text"])

    done = run_cli(env, "publish", str(first), str(bomb), str(last), timeout=180)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {bomb}: expands to more than {settings.max_message_bytes} bytes, the message limit "
        "(NEWSSTREAM_MAX_MESSAGE_BYTES): a gzip bomb?"
    ]
    assert "published 2 article(s)" in done.stdout and "1 error(s)" in done.stdout
    sent = read_topic(settings, settings.topic_raw)
    assert sorted(orjson.loads(m.value)["text"][:16] for m in sent) == ["Ferry line 1 ope", "Ferry line 2 ope"]


def _index(settings, articles: list[EnrichedArticle]) -> None:
    ensure_index(sync_client(settings), settings.index_alias)

    async def write():
        client = async_client(settings)
        await BulkWriter(client, settings.index_alias).write(
            [to_document(a.to_dict(), "2026-11-30T00:00:00+00:00") for a in articles]
        )
        await client.close()

    asyncio.run(write())
    sync_client(settings).indices.refresh(index=settings.index_alias)


def test_search_prints_markup_in_hits_as_text_and_reads_dates_strictly(pipeline_env):
    env, settings, _ = pipeline_env
    _index(
        settings,
        [
            EnrichedArticle(
                id="m1",
                body="The ferry [/] timetable lists [red]two[/red] crossings and [bold]more[/].",
                content_type="text",
                title="Ferry [/] timetable [link=x]",
                published_at="2024-06-01",
                persons=["Ana [/] Costa"],
                tags=["[b]Ferries"],
            )
        ],
    )
    found = run_cli(env, "search", "ferry timetable", timeout=60)
    assert found.returncode == 0, found.stderr  # was a MarkupError traceback
    assert "Ferry [/] timetable [link=x]" in found.stdout
    assert "persons:   Ana [/] Costa" in found.stdout and "tags:      [b]Ferries" in found.stdout
    assert "[red]two[/red]" in found.stdout.replace("«", "").replace("»", "")

    loose = run_cli(env, "search", "ferry", "--since", "20300101", timeout=60)
    assert loose.returncode == 1  # was read as epoch milliseconds: a day in 1970, so every article matched
    assert loose.stderr.strip() == (
        "error: --since must be a date as YYYY-MM-DD (or YYYY-MM-DDTHH:MM:SS), not '20300101'"
    )
    later = run_cli(env, "search", "ferry", "--since", "2030-01-01", "--json", timeout=60)
    assert later.returncode == 0 and later.stdout == ""
    earlier = run_cli(env, "search", "ferry", "--since", "2024-01-01", "--json", timeout=60)
    assert [orjson.loads(line)["id"] for line in earlier.stdout.splitlines()] == ["m1"]
