"""The CLI on files: one JSON line per article, bad inputs named with exit code 1, the rest still printed."""

from __future__ import annotations

import gzip

import orjson
from typer.testing import CliRunner

from streams.cli import app
from tests.conftest import RFI

runner = CliRunner()


def _lines(output: str) -> list[dict]:
    return [orjson.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_parse_prints_one_json_object_per_file():
    result = runner.invoke(app, ["parse", str(RFI)])
    assert result.exit_code == 0, result.output
    [record] = _lines(result.stdout)
    assert record["title"] == "US Secretary of State Antony Blinken shows support for Kazakhstan"
    assert record["published_at"] == "2023-02-28"
    assert record["content_type"] == "text"


def test_parse_names_bad_files_and_still_parses_the_good_ones(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(256)) * 40)
    notgz = tmp_path / "page.html.gz"
    notgz.write_bytes(b"not gzip at all")
    jsonl = tmp_path / "batch.jsonl"
    good = orjson.dumps({"content_type": "text", "text": RFI.read_text()})
    jsonl.write_bytes(good + b"\n{broken json\n" + good + b"\n")
    result = runner.invoke(
        app, ["parse", str(empty), str(binary), str(notgz), str(jsonl), str(tmp_path / "missing.txt")]
    )
    assert result.exit_code == 1
    errors = result.stderr
    assert f"{empty}: empty file" in errors
    assert f"{binary}: rejected: binary input" in errors
    assert f"{notgz}: cannot read" in errors
    assert f"{jsonl}:2: invalid JSON" in errors
    assert f"{tmp_path / 'missing.txt'}: cannot read: No such file or directory" in errors
    assert [r["title"] for r in _lines(result.stdout)] == [
        "US Secretary of State Antony Blinken shows support for Kazakhstan"
    ] * 2


def test_parse_reads_gzipped_html(tmp_path):
    page = tmp_path / "a.html.gz"
    body = " ".join(["The harbour of Lisbon opened a new ferry terminal on Monday morning."] * 6)
    page.write_bytes(
        gzip.compress(
            f"<html><head><title>Ferry terminal</title></head><body><article><h1>Ferry terminal opens</h1><p>{body}</p><p>{body}</p></article></body></html>".encode()
        )
    )
    result = runner.invoke(app, ["parse", str(page)])
    assert result.exit_code == 0, result.output
    [record] = _lines(result.stdout)
    assert record["content_type"] == "html"
    assert "ferry terminal" in record["body"]


def test_enrich_adds_entities():
    result = runner.invoke(app, ["enrich", str(RFI)])
    assert result.exit_code == 0, result.output
    [record] = _lines(result.stdout)
    assert sorted(record["persons"]) == ["Antony Blinken", "Olivier Douliery", "Régis Genté"]
    assert set(record["countries"]) == {"KZ", "KG", "UZ", "TJ", "TM", "US", "RU", "UA", "CN", "GE", "MD"}


def test_bad_content_type_option_is_an_error():
    result = runner.invoke(app, ["parse", "--content-type", "pdf", str(RFI)])
    assert result.exit_code == 1
    assert "--content-type must be html or text" in result.stderr
