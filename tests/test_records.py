"""Raw message decoding and the record codec: every bad value is a RecordError with a reason."""

from __future__ import annotations

import orjson
import pytest

from streams.records import DeadLetter, EnrichedArticle, ParsedArticle, RawArticle, RecordError, decode_raw, encode_raw


@pytest.mark.parametrize(
    "value, reason",
    [
        (b"", "empty message"),
        (b"   \n", "empty message"),
        (b"[1, 2]", "not an article envelope"),
        (b'{"foo": 1}', "not an article envelope"),
        (b'"just a string"', "not an article envelope"),
        (b"null", "not an article envelope"),
        (b"42", "not an article envelope"),
        (b'{"url": "https://x.test/a"}', "envelope without content"),
        (b'{"text": "x", "url": 12}', "invalid url"),
        (b'{"text": "x", "fetched_at": "yesterday"}', "invalid fetched_at"),
        (b'{"text": "x", "content_type": "pdf"}', "unknown content_type"),
    ],
)
def test_bad_raw_values_are_rejected_with_a_reason(value, reason):
    with pytest.raises(RecordError) as err:
        decode_raw(value)
    assert err.value.reason == reason


def test_envelope_and_bare_forms():
    env = decode_raw(
        b'{"url": "https://x.test/a", "html": "<p>hi</p>", "fetched_at": "2026-11-30T10:00:00Z", "source": "x"}'
    )
    assert (env.content, env.content_type, env.url, env.source) == ("<p>hi</p>", "html", "https://x.test/a", "x")
    bare = decode_raw(b"Title\n\nA paragraph.", {"content_type": b"text", "url": b"https://x.test/b"})
    assert (bare.content, bare.content_type, bare.url) == (b"Title\n\nA paragraph.", "text", "https://x.test/b")
    assert decode_raw(b"{ a page that starts with a brace").content == b"{ a page that starts with a brace"
    with pytest.raises(RecordError, match="unknown content_type"):
        decode_raw(b"%PDF-1.4", {"content_type": b"pdf"})


def test_encode_raw_round_trips_and_keeps_non_utf8_bytes():
    raw = RawArticle(content="Título\n\nTexto.", content_type="text", url="https://x.test/c")
    assert decode_raw(encode_raw(raw)) == RawArticle(
        content="Título\n\nTexto.", content_type="text", url="https://x.test/c"
    )
    latin1 = RawArticle(content="Título".encode("latin-1"), content_type="text")
    assert encode_raw(latin1) == "Título".encode("latin-1")


def test_records_round_trip_and_reject_non_records():
    art = EnrichedArticle(id="a", body="b", content_type="text", persons=["X"], extra={"k": 1})
    assert EnrichedArticle.from_bytes(art.to_bytes()) == art
    with pytest.raises(RecordError, match="not a parsed article"):
        ParsedArticle.from_bytes(b'{"title": "no id or body"}')
    with pytest.raises(RecordError, match="invalid JSON"):
        ParsedArticle.from_bytes(b"\xff\xfe")


def test_dead_letter_keeps_the_original_bytes_up_to_its_budget():
    letter = DeadLetter.wrap(
        stage="parse",
        reason="r",
        error="E",
        topic="t",
        partition=0,
        offset=7,
        value=b"\x00" * 10,
        key=b"k",
        max_original_bytes=4,
    )
    back = DeadLetter.from_bytes(letter.to_bytes())
    assert back.original_bytes() == b"\x00" * 4
    assert (back.original_size, back.original_truncated, back.key, back.offset) == (10, True, "k", 7)


def test_indexer_fast_path_checks_the_required_fields():
    art = EnrichedArticle(id="a", body="b", content_type="text", persons=["X"])
    assert EnrichedArticle.dict_from_bytes(art.to_bytes()) == art.to_dict()
    for bad in (b'{"body": "b"}', b'{"id": "", "body": "b"}', b'{"id": "a", "body": 3}', b"[]"):
        with pytest.raises(RecordError):
            EnrichedArticle.dict_from_bytes(bad)


# ------------------------------------------------------------------ strict envelopes (issue 20)


@pytest.mark.parametrize(
    "value, reason, detail",
    [
        (b'{"text": "caf\xe9 au lait", "url": "https://x.example/a"}', "invalid envelope", "not UTF-8: byte 0xe9"),
        (b'{"text": "A text \\ud800 here", "url": "https://x.example/a"}', "invalid envelope", "lone surrogate"),
        (b'{"html": "<p>\\udc00</p>"}', "invalid envelope", "lone surrogate"),
        (b'{"text": "ok", "url": "https://x.example/\x00a"}', "invalid envelope", "control character"),
        (b'{"title": "cut", "html": "<p>x</p>"', "invalid envelope", "not valid JSON"),
        (b'{"text": "ok", "url": "https://x.example/\\u0000a"}', "invalid url", "U+0000"),
        (b'{"text": "ok", "url": "https://x.example/a\\u0085b"}', "invalid url", "U+0085"),
        (b'{"text": "ok", "url": "file:///etc/passwd"}', "invalid url", "scheme 'file' is not http or https"),
        (b'{"text": "ok", "url": "javascript:alert(1)"}', "invalid url", "scheme 'javascript'"),
        (b'{"text": "ok", "url": "x.example/a"}', "invalid url", "no scheme"),
        (b'{"text": "ok", "url": "https:///a"}', "invalid url", "no host"),
        (b'{"text": "ok", "url": "http://a.example:99999/"}', "invalid url", "Port out of range"),
        (b'{"text": "ok", "url": "https://a.example/a b"}', "invalid url", "whitespace"),
        (b'{"text": "ok", "source": "feed\\u0007"}', "invalid source", "U+0007"),
    ],
)
def test_bad_envelopes_are_rejected_with_their_reason(value, reason, detail):
    with pytest.raises(RecordError) as info:
        decode_raw(value)
    assert info.value.reason == reason and detail in info.value.detail, info.value


def test_a_very_long_url_is_rejected():
    with pytest.raises(RecordError, match="invalid url: 9000 characters"):
        decode_raw(orjson.dumps({"text": "ok", "url": "https://x.example/" + "a" * (9000 - 18)}))


def test_headers_are_checked_as_strictly():
    with pytest.raises(RecordError, match="invalid url: header url is not UTF-8"):
        decode_raw(b"A page.", {"url": b"https://x.example/\xff"})
    with pytest.raises(RecordError, match="invalid url: scheme 'javascript'"):
        decode_raw(b"A page.", {"url": b"javascript:alert(1)"})


def test_pages_that_only_start_like_json_are_still_pages():
    assert decode_raw(b"{ a page that starts with a brace").content == b"{ a page that starts with a brace"
    assert decode_raw(b'{"a" is what she said').content == b'{"a" is what she said'
    assert decode_raw(b"2023 was a year of elections.").content == b"2023 was a year of elections."
