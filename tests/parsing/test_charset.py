"""Charset detection from the bytes: BOM, <meta charset>, http-equiv, detection."""

from __future__ import annotations

import codecs

import pytest

from streams.parsing import parse
from streams.parsing.charset import decode_bytes
from streams.records import RawArticle
from tests.parsing.parsing_paths import DATA

CAFE = "Après des mois de fermeture, les cafés du quartier Côte-des-Neiges ont rouvert leurs portes lundi matin."


def test_windows_1251_meta_http_equiv():
    content = (DATA / "cp1251-page.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    _text, charset = decode_bytes(content)
    assert charset == "cp1251"
    article = parse(RawArticle(content=content, content_type="html", url="https://example.ru/blinken"))
    assert article.body.startswith("Глава американской дипломатии Энтони Блинкен находится с визитом")
    assert "Главная" not in article.body and "©" not in article.body
    assert article.title == "Блинкен в Астане: поддержка Казахстана"
    assert article.language == "ru"


def test_latin1_meta_charset():
    content = (DATA / "latin1-page.html").read_bytes()
    _text, charset = decode_bytes(content)
    assert charset == "cp1252"  # WHATWG: a latin-1 label means windows-1252
    article = parse(RawArticle(content=content))  # sniffed as HTML
    assert article.content_type == "html"
    assert article.body.startswith(CAFE)
    assert "« C'est une très bonne nouvelle pour tout le monde »" in article.body
    assert article.language == "fr"


@pytest.mark.parametrize(
    "bom, codec",
    [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_bom_wins(bom, codec):
    page = (DATA / "latin1-page.html").read_bytes().decode("latin-1")
    # the meta tag still says iso-8859-1: the BOM must win over it
    content = bom + page.encode(codec)
    text, charset = decode_bytes(content)
    assert charset == codec and text.startswith("<html")
    assert parse(RawArticle(content=content, content_type="html")).body.startswith(CAFE)


def test_meta_lies_falls_back_to_utf8():
    page = (DATA / "latin1-page.html").read_bytes().decode("latin-1").replace("iso-8859-1", "us-ascii")
    text, charset = decode_bytes(page.encode("utf-8"))
    # windows-1252 decodes these bytes too, but to mojibake; UTF-8 is what the bytes are
    assert charset == "utf-8" and "Côte-des-Neiges" in text


def test_undeclared_legacy_text_is_detected():
    text = "Les cafés de Montréal rouvrent après des mois de fermeture. " * 5
    decoded, _charset = decode_bytes(text.encode("cp1252"), is_html=False)
    assert decoded == text


def test_str_content_is_used_as_is():
    page = (DATA / "latin1-page.html").read_bytes().decode("latin-1")
    assert parse(RawArticle(content="\ufeff" + page, content_type="html")).body.startswith(CAFE)
