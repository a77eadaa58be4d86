"""The README's first command: publish the bundled articles and watch them arrive.

:func:`run_demo` starts a worker in a child process (its log goes to
``SERVICES_DIR/logs/demo-worker.log``), publishes every article under
``examples/articles`` to ``articles.raw`` with kafka-python, and waits until
Elasticsearch returns each of them by id, with an ``ingested_at`` from this
run. The ids are known in advance because parsing is a pure function.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from indexers.elasticsearch.client import sync_client
from streams import kafka
from streams.parsing import parse
from streams.publish import article_key, ensure_topics, expand, read_articles
from streams.records import RawArticle, encode_raw, now_iso
from streams.settings import Settings


def _articles(folder: Path) -> list[tuple[Path, RawArticle]]:
    """Return ``(file, raw article)`` for every readable article under ``folder`` (others are skipped)."""
    return [(path, raw) for path in expand([folder]) for raw in read_articles(path) if isinstance(raw, RawArticle)]


def expected_ids(folder: Path) -> dict[str, str]:
    """Parse the bundled articles locally; return ``{article id: file name}``."""
    return {parse(raw).id: path.name for path, raw in _articles(folder)}


def publish_folder(settings: Settings, folder: Path) -> int:
    """Publish every article in ``folder`` to the raw topic; return how many."""
    ensure_topics(settings)
    prod = kafka.producer(settings)
    n = 0
    for _path, raw in _articles(folder):
        prod.send(settings.topic_raw, key=article_key(raw), value=encode_raw(raw)).get(timeout=30)
        n += 1
    prod.flush()
    prod.close()
    return n


def run_demo(
    settings: Settings, folder: Path, timeout: float = 600.0, echo: Callable[[str], object] = print
) -> tuple[int, int]:
    """Run the pipeline over ``folder`` and wait until every article is searchable.

    Returns ``(found, expected)`` counts. Raises ``TimeoutError`` after
    ``timeout`` seconds, naming the worker's log.
    """
    started_at = now_iso()
    ids = expected_ids(folder)
    log_path = settings.services_dir / "logs" / "demo-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    echo(f"starting a worker (log: {log_path}) ...")
    with open(log_path, "ab") as logf:
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )
    try:
        n = publish_folder(settings, folder)
        echo(f"published {n} article(s) from {folder} to {settings.topic_raw}")
        es = sync_client(settings)
        deadline = time.monotonic() + timeout
        found: set[str] = set()
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with code {worker.returncode}; see {log_path}")
            try:
                resp = es.search(
                    index=settings.index_alias,
                    query={
                        "bool": {
                            "filter": [{"ids": {"values": list(ids)}}, {"range": {"ingested_at": {"gte": started_at}}}]
                        }
                    },
                    size=len(ids),
                    source=False,
                )
                found = {h["_id"] for h in resp["hits"]["hits"]}
            except Exception:
                found = set()
            if found >= set(ids):
                echo(f"{len(found)} of {len(ids)} article(s) parsed, enriched and indexed")
                return len(found), len(ids)
            time.sleep(1)
        raise TimeoutError(f"{len(found)} of {len(ids)} articles indexed after {timeout:.0f} s; see {log_path}")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
