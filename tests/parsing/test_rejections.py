"""Input that is not an article is rejected with a reason, never parsed empty."""

from __future__ import annotations

import gzip

import pytest

from streams.parsing import ParseRejected, parse
from streams.records import RawArticle


def reason(content, content_type=None) -> str:
    with pytest.raises(ParseRejected) as info:
        parse(RawArticle(content=content, content_type=content_type))
    return info.value.reason


@pytest.mark.parametrize("content", [b"", "", b"   \n\t ", "  \n "])
def test_empty(content):
    assert reason(content) == "empty input"


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        gzip.compress(b"<html><body><p>zipped</p></body></html>"),
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)),
        "text with a NUL \x00 inside",
    ],
)
def test_binary(content):
    assert reason(content, "html") == "binary input"


def test_undecodable_bom():
    # a UTF-8 BOM followed by bytes that are not UTF-8
    assert reason(b"\xef\xbb\xbfcaf\xe9 " * 3 + b"\xff\xfe\xfd", "text") == "undecodable input"


def test_no_article_text():
    html = b"<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a></nav></body></html>"
    assert reason(html, "html") == "no article text"
    assert reason("Home\n\nAdvertisement\n\nSubscribe\n", "text") == "no article text"


def test_rejection_carries_detail():
    with pytest.raises(ParseRejected) as info:
        parse(RawArticle(content=b"\x00\x01\x02"))
    assert info.value.detail and str(info.value).startswith("binary input")
