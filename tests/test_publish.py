"""Reading publish's input files with the message limit (issue 20): a gzip bomb,
an endless file or an overlong line is an input error naming the file, in
bounded memory, and the files after it are still read."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson

from streams.publish import InputError, read_articles
from streams.records import RawArticle
from tests.conftest import ROOT

SENTENCE = "The minister said on Tuesday that the talks in Astana would go on."


def gzip_bomb(path: Path, expanded: int = 2 * 1024**3) -> Path:
    """Write a .gz of ``expanded`` zero bytes (2 GB by default) in about 2 MB:
    one gzip member of 64 MiB of zeros, repeated (a gzip file may hold many members)."""
    member_size = 64 * 1024 * 1024
    member = gzip.compress(bytes(member_size), compresslevel=9)
    with path.open("wb") as out:
        for _ in range(expanded // member_size):
            out.write(member)
    return path


def test_a_gzip_bomb_is_an_input_error_read_in_bounded_memory(tmp_path):
    bomb = gzip_bomb(tmp_path / "bomb.html.gz")
    assert bomb.stat().st_size < 4 * 1024 * 1024
    # in a fresh interpreter, to measure its peak memory (VmHWM: ru_maxrss of a child
    # exec'd from this big pytest process starts at the parent's resident size)
    script = f"""
from pathlib import Path
from streams.publish import read_articles
items = list(read_articles(Path({str(bomb)!r}), limit=8 * 1024 * 1024))
print(len(items), type(items[0]).__name__, str(items[0]))
print(int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) // 1024)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    summary, peak_mib = done.stdout.strip().splitlines()
    assert summary == (
        f"1 InputError {bomb}: expands to more than 8388608 bytes, the message limit "
        "(NEWSSTREAM_MAX_MESSAGE_BYTES): a gzip bomb?"
    )
    assert int(peak_mib) < 200  # decompressed whole, it took 4.25 GB and orjson crashed


def test_a_page_over_the_limit_is_named_and_the_limit_itself_is_fine(tmp_path):
    page = tmp_path / "page.txt"
    page.write_bytes(b"a" * 1001)
    [error] = read_articles(page, limit=1000)
    assert isinstance(error, InputError) and error.where == str(page)
    assert "is more than 1000 bytes, the message limit" in error.reason
    page.write_bytes(b"a" * 1000)
    [raw] = read_articles(page, limit=1000)
    assert isinstance(raw, RawArticle)
    assert raw.content == b"a" * 1000


def test_jsonl_lines_are_read_one_at_a_time_and_an_overlong_line_is_skipped(tmp_path):
    good = orjson.dumps({"text": SENTENCE, "url": "https://news.example/a"})
    big = orjson.dumps({"text": "x" * 5000})
    batch = tmp_path / "batch.jsonl.gz"
    batch.write_bytes(gzip.compress(good + b"\n" + big + b"\n" + good + b"\n"))
    items = list(read_articles(batch, limit=2000))
    assert [type(i).__name__ for i in items] == ["RawArticle", "InputError", "RawArticle"]
    assert isinstance(items[1], InputError) and isinstance(items[2], RawArticle)
    assert items[1].where == f"{batch}:2" and "line over the message limit of 2000 bytes" in items[1].reason
    assert items[2].content == SENTENCE


def test_a_json_list_may_hold_several_messages_but_not_without_end(tmp_path):
    listing = tmp_path / "list.json"
    listing.write_bytes(orjson.dumps([{"text": SENTENCE}] * 40))  # about 3 KB: three times the limit
    assert all(not isinstance(i, InputError) for i in read_articles(listing, limit=1000))
    listing.write_bytes(orjson.dumps([{"text": SENTENCE}] * 100))
    [error] = read_articles(listing, limit=1000)
    assert isinstance(error, InputError)
    assert "belongs in a .jsonl file" in error.reason


def test_a_device_or_fifo_is_not_read(tmp_path):
    [error] = read_articles(Path("/dev/zero"), limit=1000)
    assert isinstance(error, InputError)
    assert error.reason == "cannot read: not a regular file"


def test_a_corrupt_gzip_names_the_file(tmp_path):
    broken = tmp_path / "page.html.gz"
    broken.write_bytes(gzip.compress(b"<p>" + SENTENCE.encode() * 100)[:-20])
    [error] = read_articles(broken)
    assert isinstance(error, InputError) and error.reason.startswith("cannot read: ")
