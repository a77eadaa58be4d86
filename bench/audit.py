"""Cost of ``newsstream audit`` (issue 16): raw messages audited per second, and its memory.

One run, on the real local Kafka and Elasticsearch (``newsstream services
up``), with a topic, dead-letter topic and index alias of its own (deleted
at the end):

1. **Set-up** (not measured): ``--n`` raw messages published to the run's raw
   topic (``NEWSSTREAM_PARTITIONS`` partitions) as ``newsstream publish``
   sends them: JSON envelopes of short real-text articles
   (:mod:`tests.variants`, each with a URL of its own), keyed by
   ``publish.article_key``; and one document per message bulk-indexed into
   the run's index (created by ``ensure_index``: the real mapping) with its
   ``id`` and ``raw_key``, as the pipeline leaves them. ``--missing`` of the
   documents are left out, and ``--keyless`` of the messages have no key
   (as kcat publishes), so the slower paths are measured too: a message
   whose key no document holds is parsed to learn its article id.
2. **Audit**: ``newsstream audit --json --no-progress`` as a child process,
   ``--repeat`` times; wall time of the child, its peak resident memory
   (``VmHWM`` from /proc, read every 0.1 s), and the report's own seconds and rate. Every
   run must find exactly ``--missing`` missing and 0 duplicates.

Memory that does not grow with ``--n`` is what "streams the topic" means:
run with two sizes (e.g. ``--n 50000`` and ``--n 400000``) and compare.

    .venv/bin/python bench/audit.py [--n 200000] [--missing 100] [--keyless 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.indexing import delete_aliases, delete_topics, es_client, isolated_env, machine, settings_from, vm_kib


def publish(settings, n: int, keyless: int) -> list[tuple[str, str]]:
    """Publish ``n`` messages; return ``(raw_key, url)`` of each (in order)."""
    import orjson

    from streams import kafka
    from streams.publish import article_key
    from streams.records import RawArticle
    from tests.variants import sentences

    pool = sentences()
    producer = kafka.producer(settings, linger_ms=50, batch_size=256 * 1024)
    out = []
    t0 = time.monotonic()
    for i in range(n):
        url = f"https://audit.newsstream.invalid/{i}"
        text = "\n\n".join(pool[(i + j) % len(pool)] for j in range(5)) + f"\n\n{i}\n"
        raw = RawArticle(content=text, content_type="text", url=url, source="bench")
        key = article_key(raw)
        value = orjson.dumps({"url": url, "text": text, "content_type": "text", "source": "bench"})
        producer.send(settings.topic_raw, key=None if i < keyless else key, value=value)
        out.append((key.decode(), url))
    producer.flush()
    producer.close()
    print(f"  published {n} messages ({keyless} without a key) in {time.monotonic() - t0:.1f} s", flush=True)
    return out


def index(settings, es, keys: list[tuple[str, str]], missing: int) -> None:
    """Index one document per message but ``missing`` of them (every ``len // missing``-th left out)."""
    from elasticsearch import helpers

    step = len(keys) // missing if missing else 0
    skipped = {i for i in range(0, len(keys), step)} if step else set()
    skipped = set(sorted(skipped)[:missing])

    def actions():
        for i, (key, url) in enumerate(keys):
            if i in skipped:
                continue
            yield {"_index": settings.index_alias, "_id": key, "_source": {"id": key, "raw_key": key, "url": url}}

    t0 = time.monotonic()
    ok = 0
    for success, _ in helpers.streaming_bulk(es, actions(), chunk_size=5000, raise_on_error=True):
        ok += success
    es.indices.refresh(index=settings.index_alias)
    print(f"  indexed {ok} documents ({len(skipped)} left out) in {time.monotonic() - t0:.1f} s", flush=True)


def run_audit(env: dict[str, str]) -> tuple[float, int, dict]:
    """Run the CLI's audit once; return (wall seconds, its peak resident memory in MiB, the report).

    The peak is the child's ``VmHWM`` (/proc), read every 0.1 s until it exits.
    """
    t0 = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "audit", "--json", "--no-progress"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    peak = 0
    while child.poll() is None:
        peak = max(peak, vm_kib(child.pid, "VmHWM"))
        time.sleep(0.1)
    out, err = child.communicate()
    wall = time.monotonic() - t0
    if not out.strip():
        raise SystemExit(f"audit printed nothing (exit {child.returncode}): {err[-2000:]}")
    return wall, peak // 1024, json.loads(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="raw messages")
    ap.add_argument("--missing", type=int, default=100, help="documents left out (found missing)")
    ap.add_argument("--keyless", type=int, default=1000, help="messages published without a key")
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from indexers.elasticsearch.template import ensure_index
    from streams import kafka
    from streams.local.fetch import ES_VERSION, KAFKA_VERSION
    from streams.publish import ensure_topics

    env = isolated_env("audit", NEWSSTREAM_PARTITIONS=str(args.partitions))
    settings = settings_from(env)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start")
    print(
        f"Kafka {KAFKA_VERSION} at {settings.kafka_bootstrap}, Elasticsearch {ES_VERSION} at {settings.elasticsearch_url}"
    )
    if not kafka.healthy(settings):
        raise SystemExit("Kafka is not running: newsstream services up")
    es = es_client(settings)
    try:
        ensure_topics(settings)
        ensure_index(es, settings.index_alias, refresh_interval="30s")
        keys = publish(settings, args.n, args.keyless)
        index(settings, es, keys, args.missing)
        walls, rates, peaks = [], [], []
        for r in range(args.repeat):
            wall, peak, report = run_audit(env)
            assert report["published"] == args.n, report
            assert (report["missing"], report["duplicates"]) == (args.missing, 0), {
                k: report[k] for k in ("published", "indexed", "missing", "duplicates", "matched_by_id")
            }
            walls.append(wall)
            rates.append(report["rate"])
            peaks.append(peak)
            print(
                f"  audit {r + 1}: {args.n} messages, {report['missing']} missing found, "
                f"{report['without_key']} without a key, in {report['seconds']:.1f} s "
                f"({report['rate']:.0f} messages/s; {wall:.1f} s wall with start-up); peak RSS {peak} MiB",
                flush=True,
            )
        print(
            f"audit: {args.n} messages, {args.partitions} partitions, {args.missing} missing, {args.keyless} keyless: "
            f"median {statistics.median(rates):.0f} messages/s (runs {', '.join(f'{r:.0f}' for r in rates)}); "
            f"peak RSS {max(peaks)} MiB"
        )
    finally:
        delete_aliases(es, [settings.index_alias])
        delete_topics(settings)
        es.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
