"""Pipeline benchmark (issue 7): raw articles in, searchable documents out.

One run, on the real local Kafka and Elasticsearch, with topics, consumer
group and index alias unique to the run (deleted at the end):

0. **Warm-up** (unless ``--no-warm-up``): bulk indexing, searches and a
   Kafka round trip, so that the services' JIT compilers are not measured.
1. **NER limit**: bare spaCy ``nlp.pipe`` of the pipeline the worker loads
   (:func:`streams.enrichment.load_nlp` on ``settings.spacy_model``: only
   ``ner`` and the line-break marker since issue 18, so the ratio compares
   the worker with the same lean model work) over
   exactly the texts the enrich stage gives the model for the same N
   articles (``streams.enrichment.core._plan`` and ``_joined``: each English
   body, truncated as the stage does, with its title and caption, one text
   per article), in ``--processes`` processes
   in parallel, each over its share; wall time from all models loaded to the
   last process done, minibatches of ``core.PIPE_BATCH_TEXTS`` texts as in
   the enrich stage. Pages the parser rejects are left out (they never
   reach NER). Measured again at the end, once the worker has stopped: the
   ratio is taken against the mean of the two runs (printed with both).
   Rates count the articles that reach NER; "per offered article" divides
   all N by the same time (the two differ when the parser rejects pages).
2. **Throughput**: ``python -m streams.cli worker --only parse --only enrich
   --only index`` (the built-in agents; ``--with-plugins`` runs the
   installed consumer-agent plugins too) with NEWSSTREAM_WORKER_PROCESSES =
   ``--processes`` and NEWSSTREAM_PARTITIONS = max(2, processes). Once every
   process is ready and rounds of ``--warm-articles`` articles (default 300,
   not measured) have gone through it and are searchable (rounds go on,
   ``--warm-rounds`` at most, until Kafka's and Elasticsearch's JIT compiler
   threads used less than 0.5 CPU-s in a round), N raw articles are
   published at once; the time runs from the first send until all N are
   accounted for: searchable (``_count`` on the alias, polled every 0.5 s,
   so refreshes are included) or dead letters (the end offsets of the
   run's dlq topic). Prints articles/s and the
   ratio pipeline / NER limit (target >= 0.85), and the CPU seconds of the
   phase from /proc: the worker's threads (and of them, time in the kernel),
   Kafka, Elasticsearch (with their busiest threads: JIT compilers, request
   handlers) and this process.
3. **Latency** (unless ``--skip-latency``): a steady offered load of half the
   measured maximum (or ``--steady`` articles/s) for ``--latency-seconds``; each envelope's
   ``fetched_at`` holds its publish time; a poller searches the alias every
   0.2 s and records when each document first becomes visible to search.
   Latency = first visible - published (so it includes the refresh
   interval, and up to 0.2 s of polling). Prints p50/p95/p99/max, the
   same split at the index agent (the document's ``ingested_at``), and the
   five slowest articles with their length.
4. **Burst** (unless ``--skip-burst``): steady load, then 10x the steady
   load for ``--burst-seconds``, then steady again until the backlog has
   drained, i.e. is back to what the steady load keeps in flight (at most
   max(3, 3 x the steady rate) articles: 3 s of steady load; it never reaches
   0 while articles keep arriving), and 10 s more; prints the backlog
   (published - searchable - dead letters) every 2 s, the time to drain,
   and the dead letters of the phase against those the content alone
   explains (pages the parser rejects).
5. Peak resident memory (``VmHWM`` from /proc/PID/status, sampled during the
   run) of the worker and its child processes: sum and per-process max.

The articles are the development set's pages (``html/ID.html.gz`` and
``text/ID.txt``) and ``examples/articles/*.txt``, cycled. Copy c of a page
is published with the URL ``https://bench.newsstream.invalid/<file>/<c>``
and, for HTML, with the page's own canonical URL suffixed with ``bench=c``,
so that every copy has a distinct id (pages whose copies would still share
an id are dropped and counted).

6. **Metrics cost** (``--metrics-cost`` instead of phases 1-5): two
   workers side by side, each with its own topics, group and alias, one
   without the Prometheus metrics and one with them
   (``NEWSSTREAM_METRICS_PORT`` set, scraped every 5 s by this process, as a
   Prometheus would); every article is sent to both at the same moment, so
   whatever else the shared machine runs slows both alike. Each of
   ``--metrics-rounds`` rounds starts both afresh (who starts first
   alternates), sends ``--warm-articles`` articles unmeasured, then N; prints
   each worker's time until its N are accounted for, its CPU seconds per
   article, the ratio with/without, and the mean and spread over the
   rounds. Then the instrumentation's own cost: the calls a stage makes per
   article, timed in this process in prometheus-client's multiprocess mode
   (as in a worker), against the workers' CPU per article.

``--profile DIR`` runs the worker under ``py-spy record --subprocesses``
(py-spy in the venv) and writes collapsed stacks to DIR; memory figures are
then not printed (py-spy is the root of the process tree).

    .venv/bin/python bench/pipeline.py [--n 600] [--processes 4] [--data DIR]
        [--skip-latency] [--skip-burst] [--latency-seconds 60]
        [--burst-seconds 5] [--with-plugins] [--profile DIR] [--warm-articles 300] [--warm-rounds 5]
    .venv/bin/python bench/pipeline.py --metrics-cost [--metrics-rounds 2] [--n 300] [--warm-articles 100]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.indexing import (
    DEFAULT_DATA,
    Worker,
    count,
    delete_aliases,
    delete_topics,
    es_client,
    isolated_env,
    machine,
    proc_tree,
    progress,
    settings_from,
)
from indexers.elasticsearch.writer import to_document
from streams.records import RawArticle

EXAMPLES = REPO / "examples" / "articles"
BENCH_HOST = "https://bench.newsstream.invalid"


# ---------------------------------------------------------------- articles


def load_distinct(data: Path) -> list[tuple[str, RawArticle]]:
    """``(file name, RawArticle)`` of every development-set page and example article."""
    from streams.publish import read_articles

    paths = (
        sorted((data / "html").glob("*.html.gz"))
        + sorted((data / "text").glob("*.txt"))
        + sorted(EXAMPLES.glob("*.txt"))
    )
    out = []
    for p in paths:
        for raw in read_articles(p):
            if isinstance(raw, RawArticle):
                out.append((p.name, raw))
    return out


class Corpus:
    """The distinct pages and how to make copy c of page k with a distinct id."""

    def __init__(self, distinct: list[tuple[str, RawArticle]]) -> None:
        from streams.parsing import ParseRejected, parse
        from streams.parsing.html import extract_html

        self.pages = []  # (name, raw, page canonical url or None)
        self.parsed = []  # ParsedArticle or None (rejected) per page
        self.dropped = 0
        t0 = time.perf_counter()
        for name, raw in distinct:
            canon = None
            if raw.content_type == "html":
                html = raw.content if isinstance(raw.content, str) else raw.content.decode("utf-8", "replace")
                found = extract_html(html, url=self._url(name, 0))
                canon = found.canonical_url
                if canon and canon.startswith(BENCH_HOST):
                    canon = None
            page = (name, raw, canon)
            try:
                p0 = parse(self._variant(page, 0))
            except ParseRejected:
                p0 = None
            if p0 is not None and canon:
                try:
                    if parse(self._variant(page, 1)).id == p0.id:  # copies would dedupe: drop the page
                        self.dropped += 1
                        continue
                except ParseRejected:
                    pass
            self.pages.append(page)
            self.parsed.append(p0)
        self.prepare_seconds = time.perf_counter() - t0

    @staticmethod
    def _url(name: str, c: int) -> str:
        return f"{BENCH_HOST}/{name}/{c}"

    @staticmethod
    def _variant(page, c: int, fetched_at: str | None = None):
        name, raw, canon = page
        content = raw.content
        if canon:
            sep = "&" if "?" in canon else "?"
            content = content.replace(canon.encode(), f"{canon}{sep}bench={c}".encode())
        return RawArticle(
            content=content, content_type=raw.content_type, url=Corpus._url(name, c), source=name, fetched_at=fetched_at
        )

    def message(self, i: int, fetched_at: str | None = None) -> tuple[bytes, bytes]:
        """``(key, value)`` of the i-th message: page i mod D, copy i div D."""
        from streams.publish import article_key
        from streams.records import encode_raw

        page = self.pages[i % len(self.pages)]
        raw = self._variant(page, i // len(self.pages), fetched_at)
        return article_key(raw), encode_raw(raw)

    def rejected(self, i: int) -> bool:
        return self.parsed[i % len(self.pages)] is None


# ---------------------------------------------------------------- NER limit


def _ner_child(model: str, articles: list[dict], barrier, out) -> None:
    sys.path.insert(0, str(REPO))
    from streams.enrichment import core, load_nlp
    from streams.records import ParsedArticle

    nlp = load_nlp(model)
    texts: list[str] = []
    for a in articles:
        plan, _notes = core._plan(ParsedArticle.from_dict(a), nlp)
        if plan:
            texts.append(core._joined(plan)[0])  # one text per article, as the enrich stage pipes
    for _ in nlp.pipe(texts[:4]):  # warm-up, as the worker loads before consuming
        pass
    barrier.wait()
    t0, cpu0, sys0 = time.time(), time.process_time(), os.times().system
    for _ in nlp.pipe(texts, batch_size=core.PIPE_BATCH_TEXTS):  # the enrich stage's minibatch size
        pass
    out.put(
        (t0, time.time(), len(texts), sum(len(t) for t in texts), time.process_time() - cpu0, os.times().system - sys0)
    )


def ner_limit(corpus: Corpus, n: int, processes: int, model: str) -> tuple[float, int, int, int, float, float]:
    """Bare nlp.pipe in ``processes`` parallel processes;
    ``(wall seconds, articles, texts, chars, CPU seconds, of them in the kernel)``."""
    chosen = [corpus.parsed[i % len(corpus.pages)] for i in range(n)]
    items = [a.to_dict() for a in chosen if a is not None]
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_ner_child, args=(model, items[k::processes], barrier, out)) for k in range(processes)]
    for p in procs:
        p.start()
    results = [out.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join()
    wall = max(r[1] for r in results) - min(r[0] for r in results)
    return (
        wall,
        len(items),
        sum(r[2] for r in results),
        sum(r[3] for r in results),
        sum(r[4] for r in results),
        sum(r[5] for r in results),
    )


# ---------------------------------------------------------------- CPU accounting

_TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pids: list[int]) -> dict[tuple[int, int], tuple[float, float]]:
    """CPU seconds of every thread of ``pids``, from /proc:
    ``{(pid, tid): (user + system seconds, of them system seconds)}``."""
    out = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            user, system = int(fields[11]) / _TICK, int(fields[12]) / _TICK
            out[(pid, int(tid))] = (user + system, system)
    return out


def thread_group(pid: int, tid: int) -> str:
    """A thread's name from /proc without its trailing number ("C2 CompilerThre", "GC Thread"), or "?"."""
    try:
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            return re.sub(r"[\d#-]+$", "", f.read().strip()).strip() or "?"
    except OSError:
        return "?"


def service_pids(settings) -> dict[str, list[int]]:
    """The process trees of the local Kafka and Elasticsearch (``newsstream services``), by name."""
    from streams.local.services import status

    return {s.name: proc_tree(s.pid) if s.pid else [] for s in status(settings)}


def process_age(pid: int) -> float:
    """Seconds since process ``pid`` started (from /proc/PID/stat and /proc/uptime)."""
    with open(f"/proc/{pid}/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) - start_ticks / _TICK


def services_age_line(settings) -> str:
    """How long Kafka and Elasticsearch have been up, with a warning when either started
    less than 10 minutes ago (their JIT compilers then still take CPU from the run)."""
    ages = {}
    for name, pids in service_pids(settings).items():
        if pids:
            ages[name] = max(process_age(p) for p in pids)
    text = ", ".join(f"{name} up {age / 60:.0f} min" for name, age in ages.items()) or "services not found"
    if any(age < 600 for age in ages.values()):
        text += " (WARNING: started less than 10 minutes ago; their JIT compilation will cost this run CPU)"
    return text


JIT_QUIET_CPU_S = 0.5  # a warm-up round in which the JVMs' compilers used less: they are done


def jit_cpu(settings) -> float:
    """CPU seconds the JIT compiler threads (C1, C2) of Kafka and Elasticsearch have used so far."""
    pids = [p for pids in service_pids(settings).values() for p in pids]
    return sum(
        v for (pid, tid), (v, _) in thread_cpu(pids).items() if thread_group(pid, tid).startswith(("C1 ", "C2 "))
    )


class CpuMeter:
    """CPU seconds spent by the worker's threads, the services and this process between two calls."""

    def __init__(self, settings, worker) -> None:
        self.settings, self.worker = settings, worker

    def _snapshot(self) -> tuple[float, dict[str, list[int]], dict]:
        groups = {"worker": proc_tree(self.worker.proc.pid), **service_pids(self.settings), "benchmark": [os.getpid()]}
        return time.monotonic(), groups, thread_cpu([p for pids in groups.values() for p in pids])

    def start(self) -> None:
        self.t0, _, self.before = self._snapshot()

    def report(self) -> str:
        t1, groups, after = self._snapshot()
        zero = (0.0, 0.0)
        # (CPU seconds, of them system seconds) of each thread between the two snapshots
        d = {k: (v - self.before.get(k, zero)[0], sv - self.before.get(k, zero)[1]) for k, (v, sv) in after.items()}
        pids = {name: set(group) for name, group in groups.items()}
        worker = pids["worker"]
        worker_sys = sum(sv for (pid, _), (_, sv) in d.items() if pid in worker)
        main = sum(v for (pid, tid), (v, _) in d.items() if pid in worker and pid == tid)
        # every other thread of a worker process: the enrich executor's (nlp.pipe and
        # the Python after it; the pool may use more than one) and faust's consumer thread
        threads = sum(v for (pid, tid), (v, _) in d.items() if pid in worker and pid != tid)
        svc = {
            name: sum(v for (pid, _), (v, _) in d.items() if pid in pids[name]) for name in ("kafka", "elasticsearch")
        }
        bench = sum(v for (pid, _), (v, _) in d.items() if pid == os.getpid())
        total = main + threads + sum(svc.values()) + bench
        wall = t1 - self.t0
        # the JVMs' busiest thread groups (JIT compilers, GC, request handlers), by thread name
        jvm = []
        for name in ("kafka", "elasticsearch"):
            by_group: Counter = Counter()
            for (pid, tid), (v, _) in d.items():
                if pid in pids[name] and v > 0:
                    by_group[thread_group(pid, tid)] += v
            top = ", ".join(f"{g} {v:.1f}" for g, v in by_group.most_common(3))
            jvm.append(f"{name}: {top}")
        return (
            f"CPU seconds (from /proc): worker threads beside the main one (enrich: nlp.pipe + the Python after it; "
            f"faust's Kafka consumer thread) {threads:.1f}, worker main threads (parse, faust, bulk) {main:.1f}, "
            f"(of all worker threads, in the kernel {worker_sys:.1f}), Elasticsearch {svc['elasticsearch']:.1f}, Kafka {svc['kafka']:.1f}, this benchmark {bench:.1f}; "
            f"total {total:.1f} in {wall:.1f} s = {total / wall:.2f} cores busy\n"
            f"    busiest service threads (CPU-s): {'; '.join(jvm)}"
        )


# ---------------------------------------------------------------- services warm-up


def warm_services(settings, es, corpus: Corpus, rounds: int = 5, n_docs: int = 2000) -> float:
    """Run the services' hot paths before anything is measured; return the seconds taken.

    Kafka and Elasticsearch are JVMs: their just-in-time compilers work for
    minutes after a start, on the same two cores as the worker (one run right
    after ``services up`` spent 4.6 CPU-s in Elasticsearch's C2 compiler
    threads during the 56 s throughput phase; a warm one 0.3-0.9). So: bulk
    ``rounds`` x ``n_docs`` documents of the corpus into a scratch index made
    by the real template, search it, and send and read ``n_docs`` messages
    through a scratch topic. Everything is deleted afterwards.
    """
    from elasticsearch import helpers
    from kafka import TopicPartition

    from indexers.elasticsearch.template import ensure_index
    from streams import kafka
    from streams.records import EnrichedArticle

    t0 = time.monotonic()
    alias, topic = f"{settings.index_alias}warm", f"{settings.app_id}-warm"
    parsed = [a for a in corpus.parsed if a is not None]
    stamp = iso(time.time())
    docs = []
    for i in range(n_docs):
        record = EnrichedArticle.from_parsed(parsed[i % len(parsed)], keywords=["warm-up"], tags=["warm-up"]).to_dict()
        record["id"] = f"warm-{i}"
        docs.append(to_document(record, stamp))
    try:
        ensure_index(es, alias, refresh_interval=settings.refresh_interval)
        for _ in range(rounds):
            helpers.bulk(es, ({"_index": alias, "_id": d_id, "_source": src} for d_id, src in docs), chunk_size=500)
            es.indices.refresh(index=alias)
            for word in ("government", "Kazakhstan", "ferry", "election", "warm-up"):
                es.search(index=alias, query={"multi_match": {"query": word, "fields": ["title", "body"]}}, size=10)
        prod = kafka.producer(settings)
        for i in range(n_docs):
            key, value = corpus.message(20_000_000 + i)
            prod.send(topic, key=key, value=value)
        prod.flush()
        prod.close()
        consumer = kafka.consumer(settings, None)
        parts = [TopicPartition(topic, k) for k in sorted(consumer.partitions_for_topic(topic) or {0})]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        got, deadline = 0, time.monotonic() + 60
        while got < n_docs and time.monotonic() < deadline:
            got += sum(len(v) for v in consumer.poll(timeout_ms=500).values())
        consumer.close()
    finally:
        delete_aliases(es, [alias])
        delete_topics(settings, [topic])
    return time.monotonic() - t0


# ---------------------------------------------------------------- profile summary

STAGES = [  # (stage, substrings of a frame: the first stage whose marker is on the stack wins)
    (
        "start-up (imports, model load, gazetteer, prepare)",
        ("load_nlp", "prepare (streams/runner.py", "_find_and_load", "Gazetteer.__init__"),
    ),
    ("enrich: spaCy nlp.pipe (NER)", ("spacy/", "thinc/", "spacy_", "/srsly/")),
    ("enrich: our Python after the pipe", ("streams/enrichment/",)),
    (
        "parse (streams/parsing, trafilatura, lxml)",
        ("streams/parsing/", "trafilatura", "lxml", "justext", "courlan", "htmldate"),
    ),
    (
        "bulk indexing (writer, elasticsearch client)",
        ("indexers/elasticsearch", "elasticsearch/", "elastic_transport", "aiohttp"),
    ),
    ("record (de)serialisation (streams.records)", ("streams/records.py", "dataclasses.py", "orjson")),
    ("Kafka client (aiokafka)", ("aiokafka", "kafka/")),
    ("faust / mode / asyncio overhead", ("faust/", "mode/", "asyncio/", "venusian", "selectors.py")),
]


def summarise_profile(path: Path) -> list[tuple[str, int, float]]:
    """Group py-spy collapsed stacks (``--format raw``) by stage; ``(stage, samples, share)`` rows."""
    totals: Counter = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = stack.split(";")
        stage = "other"
        for name, markers in STAGES:
            if any(m in f for f in frames for m in markers):
                stage = name
                break
        totals[stage] += int(n)
    total = sum(totals.values()) or 1
    return [(name, totals[name], totals[name] / total) for name, _ in [*STAGES, ("other", ())] if totals[name]]


# ---------------------------------------------------------------- the run


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def parse_iso(s: str) -> float:
    return datetime.fromisoformat(s).timestamp()


class Monitor(threading.Thread):
    """Polls the alias every 0.2 s: first time each document is visible, with its ``fetched_at``."""

    def __init__(self, settings, worker: Worker) -> None:
        super().__init__(daemon=True)
        self.settings, self.worker = settings, worker
        self.seen: dict[str, tuple[float, float | None]] = {}  # id -> (first visible, fetched_at)
        self.about: dict[str, tuple[str, int]] = {}  # id -> (source page, body words)
        self.ingested: dict[str, float] = {}  # id -> ingested_at (the index agent's batch time)
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        es = es_client(self.settings)
        n = 0
        while not self.stop_flag.is_set():
            since = (datetime.now(UTC) - timedelta(seconds=15)).replace(microsecond=0).isoformat()
            try:
                hits = es.search(
                    index=self.settings.index_alias,
                    size=10000,
                    _source=["fetched_at", "ingested_at", "source", "word_count"],
                    query={"range": {"ingested_at": {"gte": since}}},
                )["hits"]["hits"]
            except Exception:
                hits = []
            now = time.time()
            with self.lock:
                for h in hits:
                    if h["_id"] not in self.seen:
                        fa = h["_source"].get("fetched_at")
                        self.seen[h["_id"]] = (now, parse_iso(fa) if fa else None)
                        self.about[h["_id"]] = (h["_source"].get("source") or "?", h["_source"].get("word_count") or 0)
                        if h["_source"].get("ingested_at"):
                            self.ingested[h["_id"]] = parse_iso(h["_source"]["ingested_at"])
            n += 1
            if n % 10 == 0:
                self.worker.sample_memory()
            self.stop_flag.wait(0.2)

    def slowest(self, t0: float, k: int = 5) -> list[tuple[float, str, int]]:
        """The ``k`` longest publish-to-visible latencies since ``t0``: ``(seconds, source page, body words)``."""
        with self.lock:
            out = [
                (v - f, *self.about.get(i, ("?", 0)))
                for i, (v, f) in self.seen.items()
                if f is not None and f >= t0 - 1e-3
            ]
        return sorted(out, reverse=True)[:k]

    def split_since(self, t0: float) -> tuple[list[float], list[float]]:
        """Latencies since ``t0`` cut at the index agent: ``(publish -> indexing, indexing -> visible)``."""
        with self.lock:
            rows = [
                (self.ingested[i] - f, v - self.ingested[i])
                for i, (v, f) in self.seen.items()
                if f is not None and f >= t0 - 1e-3 and i in self.ingested
            ]
        return [a for a, _ in rows], [b for _, b in rows]

    def visible_since(self, t0: float) -> list[tuple[float, float]]:
        """``(visible, published)`` of the documents published at or after ``t0``."""
        with self.lock:
            return [(v, f) for v, f in self.seen.values() if f is not None and f >= t0 - 1e-3]


class DeadLetterCounter:
    """Counts the messages on the dead-letter topic from its end offsets (one long-lived consumer).

    The polling loops call it every 0.5-2 s; reading the whole topic each
    time (``dead_letter_list``) cost the benchmark process CPU that the
    worker competes for.
    """

    def __init__(self, settings) -> None:
        from streams import kafka

        self.topic = settings.topic_dlq
        self.consumer = kafka.consumer(settings, None)

    def __call__(self) -> int:
        from kafka import TopicPartition

        try:
            parts = self.consumer.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            return sum(self.consumer.end_offsets(tps).values()) if tps else 0
        except Exception:
            return 0

    def close(self) -> None:
        self.consumer.close()


def print_latency_detail(monitor: Monitor, t_phase: float, corpus: Corpus) -> None:
    """Print a phase's latency split at the index agent, and its five slowest articles."""
    before, after = monitor.split_since(t_phase)
    print(
        f"  publish -> index agent (parse, enrich, Kafka, batch waits): p50 {pct(before, 50):.2f} s, "
        f"p99 {pct(before, 99):.2f} s; index agent -> visible (bulk, refresh, polling): "
        f"p50 {pct(after, 50):.2f} s, p99 {pct(after, 99):.2f} s",
        flush=True,
    )
    words = sorted(a.word_count for a in corpus.parsed if a is not None)
    print(
        "  slowest: "
        + "; ".join(f"{sec:.2f} s {src} ({w} words)" for sec, src, w in monitor.slowest(t_phase))
        + f"  (body words in the corpus: median {words[len(words) // 2]}, max {words[-1]})",
        flush=True,
    )


def dead_letter_list(settings) -> list:
    from streams.delivery.deadletters import read_dead_letters

    try:
        return read_dead_letters(settings, timeout_s=5.0)
    except Exception:
        return []


class Sender:
    """Sends with kafka-python, keeps the futures, and counts the sends Kafka refused."""

    def __init__(self, prod, topic: str) -> None:
        self.prod, self.topic = prod, topic
        self.pending: list = []
        self.sent = self.failed = 0
        self.errors: Counter = Counter()

    def send(self, key: bytes, value: bytes) -> None:
        self.pending.append(self.prod.send(self.topic, key=key, value=value))
        self.sent += 1
        self.check()

    def check(self) -> None:
        keep = []
        for f in self.pending:
            if not f.is_done:
                keep.append(f)
            elif f.failed():
                self.failed += 1
                self.errors[repr(f.exception)[:80]] += 1
        self.pending = keep

    def flush(self) -> None:
        self.prod.flush()
        self.check()

    @property
    def delivered(self) -> int:
        return self.sent - self.failed - len(self.pending)


def publish_at(sender: Sender, corpus: Corpus, start_i: int, schedule) -> tuple[int, float]:
    """Publish messages from ``start_i`` following ``schedule(elapsed) -> rate or None (end)``;
    each envelope's fetched_at is its send time. Returns ``(next i, seconds)``."""
    t0 = time.time()
    i, credit, last = start_i, 0.0, t0
    while True:
        now = time.time()
        rate = schedule(now - t0)
        if rate is None:
            break
        credit += rate * (now - last)
        last = now
        while credit >= 1.0:
            key, value = corpus.message(i, iso(time.time()))
            sender.send(key, value)
            i += 1
            credit -= 1.0
        time.sleep(0.005)
    sender.flush()
    return i, time.time() - t0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))
    return values[k]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its descendants."""
    return sum(v for v, _ in thread_cpu(proc_tree(pid)).values())


def _scrape(port: int) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def instrumentation_us_per_article(repeat: int = 20000) -> float:
    """Microseconds of CPU the metric calls of one article cost in a worker (multiprocess mode),
    counting every per-batch call as if each batch held one article (the worst case)."""
    import subprocess

    code = f"""
import os, shutil, sys, tempfile, time
sys.path.insert(0, {str(REPO)!r})
os.environ.pop("NEWSSTREAM_METRICS_CHILD", None)
folder = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="newsstream-bench-metrics-")
from streams import metrics, observe
from streams.settings import Settings
endpoint = observe.start(Settings(metrics_port=0), ["parse", "enrich", "index"])
n = {repeat}
t0 = time.process_time()
for i in range(n):
    for stage in ("parse", "enrich", "index"):  # batching.handle, per batch
        metrics.count_in(stage, 1)
        metrics.observe_batch(stage, 1, 0.01)
    metrics.count_out("parse", 1)  # outbox.settle, per batch and stage
    metrics.count_out("enrich", 1)
    metrics.count_out("index", 1)  # index_batch
    metrics.observe_indexed([int(time.time() * 1000) - 800], time.time())
    metrics.observe_bulk_request(0.05, True)  # the writer, per bulk request
    metrics.count_throttled(0)
    for cause in metrics.RETRY_CAUSES:
        metrics.count_bulk_retried(cause, 0)
print((time.process_time() - t0) / n * 1e6)
endpoint.close()
shutil.rmtree(folder, ignore_errors=True)
"""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return float(done.stdout.strip().splitlines()[-1])


def metrics_cost(args, corpus: Corpus, es, scratch: Path) -> int:
    """Phase 6: two workers side by side, one without and one with metrics, fed the same articles at
    the same time, in ``--metrics-rounds`` rounds (see the module's description)."""
    from streams.kafka import producer
    from streams.publish import ensure_topics

    p = args.processes
    base = {"NEWSSTREAM_WORKER_PROCESSES": str(p), "NEWSSTREAM_PARTITIONS": str(max(2, p))}
    port = _free_port()
    envs = {
        "off": isolated_env("moff", **base),
        "on": isolated_env("mon", **base, NEWSSTREAM_METRICS_PORT=str(port)),
    }
    sets = {arm: settings_from(env) for arm, env in envs.items()}
    for st in sets.values():
        ensure_topics(st)
    prod = producer(sets["off"])
    dls = {arm: DeadLetterCounter(st) for arm, st in sets.items()}
    only = ["parse", "enrich", "index"]
    rows: list[tuple[float, float, float, float]] = []  # (off rate, on rate, off CPU/article, on CPU/article)
    next_i = 30_000_000

    def send_both(ids: range, stamp: bool) -> None:
        for i in ids:  # the same article to both, one after the other
            key, value = corpus.message(i, iso(time.time()) if stamp else None)
            for st in sets.values():
                prod.send(st.topic_raw, key=key, value=value)
        prod.flush()

    def accounted(arm: str, docs0: int, dl0: int) -> int:
        return count(es, sets[arm].index_alias) - docs0 + dls[arm]() - dl0

    try:
        for rnd in range(args.metrics_rounds):
            order = ("off", "on") if rnd % 2 == 0 else ("on", "off")  # who starts first
            workers = {
                arm: Worker(envs[arm], scratch / f"worker-{rnd}-{arm}.log", only=only, cwd=scratch) for arm in order
            }
            for w in workers.values():
                w.start()
            try:
                for w in workers.values():
                    w.wait_log(r"\[\^Worker\]: Ready", p, timeout=900)
                warm = range(next_i, next_i + args.warm_articles)
                next_i += args.warm_articles
                start = {arm: (count(es, sets[arm].index_alias), dls[arm]()) for arm in order}
                send_both(warm, stamp=False)
                with progress(f"round {rnd + 1}: warm-up", 2 * len(warm)) as update:
                    t0 = time.monotonic()
                    while time.monotonic() - t0 < 900:
                        done = {arm: accounted(arm, *start[arm]) for arm in order}
                        update(sum(done.values()))
                        if min(done.values()) >= len(warm):
                            break
                        time.sleep(0.5)
                start = {arm: (count(es, sets[arm].index_alias), dls[arm]()) for arm in order}
                stop_scraping = threading.Event()
                scrapes: list[int | str] = []

                def scraper(stop: threading.Event = stop_scraping, got: list = scrapes) -> None:
                    while not stop.wait(5.0):
                        try:
                            got.append(len(_scrape(port)))
                        except Exception as exc:
                            got.append(repr(exc))

                threading.Thread(target=scraper, daemon=True).start()
                cpu0 = {arm: _tree_cpu(w.proc.pid) for arm, w in workers.items() if w.proc is not None}
                t_start = time.time()
                ids = range(next_i, next_i + args.n)
                next_i += args.n
                send_both(ids, stamp=True)
                finished: dict[str, tuple[float, float]] = {}  # arm -> (seconds, CPU seconds)
                with progress(f"round {rnd + 1}: both accounted for", 2 * args.n) as update:
                    while len(finished) < 2 and time.time() - t_start < 1800:
                        done = {arm: accounted(arm, *start[arm]) for arm in order}
                        update(sum(done.values()))
                        for arm, n_done in done.items():
                            w = workers[arm]
                            if arm not in finished and n_done >= args.n and w.proc is not None:
                                finished[arm] = (time.time() - t_start, _tree_cpu(w.proc.pid) - cpu0[arm])
                        if not all(w.alive() for w in workers.values()):
                            raise RuntimeError("a worker exited during the metrics-cost round")
                        time.sleep(0.5)
                stop_scraping.set()
                if len(finished) < 2:
                    print(f"  round {rnd + 1}: WARNING not both done after 1800 s: {finished}", flush=True)
                    continue
                (s_off, c_off), (s_on, c_on) = finished["off"], finished["on"]
                rows.append((args.n / s_off, args.n / s_on, c_off / args.n, c_on / args.n))
                text = _scrape(port)
                got = sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines()
                    if line.startswith('newsstream_messages_in_total{stage="parse"}')
                )
                print(
                    f"  round {rnd + 1} ({order[0]} started first): without metrics {args.n} in {s_off:.1f} s = "
                    f"{args.n / s_off:.2f} articles/s, {c_off / args.n * 1000:.0f} ms CPU per article; with: "
                    f"{s_on:.1f} s = {args.n / s_on:.2f} articles/s, {c_on / args.n * 1000:.0f} ms; ratio with/without "
                    f"{s_off / s_on:.3f} (CPU per article {c_on / c_off:.3f}); {len(scrapes)} scrapes, the endpoint "
                    f"counts {got:.0f} messages into parse this round (expected {args.warm_articles + args.n})",
                    flush=True,
                )
            finally:
                for w in workers.values():
                    w.stop()
    finally:
        prod.close()
        for c in dls.values():
            c.close()
        for st in sets.values():
            delete_aliases(es, [st.index_alias])
            delete_topics(st)
    if not rows:
        return 1
    ratios = [on / off for off, on, _, _ in rows]
    cpu = [on / off for _, _, off, on in rows]
    print(
        f"metrics cost, {len(rows)} rounds side by side: throughput with / without "
        + ", ".join(f"{r:.3f}" for r in ratios)
        + f"; mean {statistics.mean(ratios):.3f} (spread {min(ratios):.3f}-{max(ratios):.3f}"
        + (f", sd {statistics.stdev(ratios):.3f}" if len(ratios) > 1 else "")
        + "); worker CPU per article with / without "
        + ", ".join(f"{r:.3f}" for r in cpu)
        + f"; mean {statistics.mean(cpu):.3f}",
        flush=True,
    )
    us = instrumentation_us_per_article()
    per_article = statistics.mean([r[2] for r in rows] + [r[3] for r in rows])
    print(
        f"instrumentation alone: {us:.1f} us of CPU per article (every per-batch call counted per article), "
        f"= {us / 1e6 / per_article * 100:.3f}% of the worker's {per_article * 1000:.0f} ms of CPU per article",
        flush=True,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600, help="articles of the throughput phase")
    ap.add_argument(
        "--processes",
        type=int,
        default=4,
        help="worker processes (NEWSSTREAM_WORKER_PROCESSES); 2 per core: a long article then holds up a "
        "quarter of the partitions, not half",
    )
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="development set folder")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--skip-burst", action="store_true")
    ap.add_argument("--skip-ner", action="store_true", help="no NER-limit run (no ratio)")
    ap.add_argument("--latency-seconds", type=float, default=60.0)
    ap.add_argument(
        "--steady",
        type=float,
        default=None,
        help="offered articles/s of the latency and burst phases (default: half the measured maximum)",
    )
    ap.add_argument("--burst-seconds", type=float, default=5.0)
    ap.add_argument("--with-plugins", action="store_true", help="run the installed consumer-agent plugins too")
    ap.add_argument("--keep-logs", action="store_true", help="keep the worker log (its folder is printed)")
    ap.add_argument("--profile", type=Path, default=None, help="py-spy the worker; collapsed stacks into this folder")
    ap.add_argument("--no-warm-up", action="store_true", help="measure without warming up Kafka and Elasticsearch")
    ap.add_argument(
        "--metrics-cost",
        action="store_true",
        help="only phase 6: throughput without and with the worker's Prometheus metrics, alternately",
    )
    ap.add_argument("--metrics-rounds", type=int, default=2, help="pairs of rounds (off, on) of --metrics-cost")
    ap.add_argument(
        "--warm-articles",
        type=int,
        default=300,
        help="articles per warm-up round through the worker before the throughput phase (not measured)",
    )
    ap.add_argument(
        "--warm-rounds",
        type=int,
        default=5,
        help=f"at most this many warm-up rounds; they stop once the services' JIT compilers used "
        f"< {JIT_QUIET_CPU_S} CPU-s in a round",
    )
    args = ap.parse_args(argv)

    from streams.kafka import producer
    from streams.publish import ensure_topics

    p = args.processes
    env = isolated_env("pipe", NEWSSTREAM_WORKER_PROCESSES=str(p), NEWSSTREAM_PARTITIONS=str(max(2, p)))
    env["WATCHLIST_ALERT_TOPIC"] = f"{env['NEWSSTREAM_APP_ID']}.alerts"
    settings = settings_from(env)
    es = es_client(settings)
    scratch = Path(tempfile.mkdtemp(prefix="newsstream-bench-pipeline-"))

    corpus = Corpus(load_distinct(args.data))
    d = len(corpus.pages)
    rejected_pages = sum(1 for a in corpus.parsed if a is None)
    print(f"machine: {machine()}")
    print(f"services: {services_age_line(settings)}")
    print(
        f"articles: {d} distinct pages ({rejected_pages} rejected by the parser, {corpus.dropped} dropped: "
        f"copies would share an id) from {args.data.resolve()} and {EXAMPLES.relative_to(REPO)}; "
        f"N={args.n} (cycled); prepared in {corpus.prepare_seconds:.1f} s"
    )
    print(
        f"worker: {p} process(es), {max(2, p)} partitions, enrich_batch_size={settings.enrich_batch_size}, "
        f"bulk_max_docs={settings.bulk_max_docs}, refresh_interval={settings.refresh_interval}, "
        f"model {settings.spacy_model}; plugins' consumer agents: {'yes' if args.with_plugins else 'no'}",
        flush=True,
    )

    if not args.no_warm_up:
        print(
            f"services warmed up in {warm_services(settings, es, corpus):.1f} s "
            "(5 x 2000 documents bulk-indexed and searched, 2000 messages through Kafka)",
            flush=True,
        )

    if args.metrics_cost:
        try:
            return metrics_cost(args, corpus, es, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    ner = None
    if not args.skip_ner:
        ner = ner_limit(corpus, args.n, p, settings.spacy_model)
        wall, n_ner, n_texts, chars, ner_cpu, ner_sys = ner
        print(
            f"NER limit: bare nlp.pipe, {p} processes: {n_ner} articles ({n_texts} texts, {chars / 1e6:.1f} M chars) "
            f"in {wall:.1f} s = {n_ner / wall:.2f} articles/s ({args.n / wall:.2f} per offered article); "
            f"{ner_cpu:.1f} CPU-s ({ner_sys:.1f} in the kernel)",
            flush=True,
        )

    only = [] if args.with_plugins else ["parse", "enrich", "index"]
    prefix = None
    if args.profile:
        args.profile = args.profile.resolve()  # the worker runs in a scratch folder
        args.profile.mkdir(parents=True, exist_ok=True)
        out = args.profile / f"pyspy-p{p}-n{args.n}.txt"
        prefix = [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--subprocesses",
            "--threads",
            "--rate",
            "50",
            "--format",
            "raw",
            "-o",
            str(out),
            "--",
        ]
    worker = Worker(env, scratch / "worker.log", only=only, cwd=scratch, prefix=prefix)
    monitor = dl_count = None
    pipe_rate_ner = 0.0
    try:
        ensure_topics(settings)
        prod = producer(settings)
        worker.start()
        ready = worker.wait_log(r"\[\^Worker\]: Ready", p, timeout=300)
        print(f"worker ready in {ready:.1f} s", flush=True)
        # warm-up: rounds of --warm-articles articles (copy "warm" ids) through the whole
        # pipeline, each until searchable, so that the throughput phase measures the steady
        # state: the services' JIT compilers have then compiled the paths this worker uses
        # (consumer groups, bulk requests of this size, refreshes under search polling), not
        # only those of warm_services. Rounds go on while the compilers are still busy.
        n_warm = max(4 * p, args.warm_articles)
        for rnd in range(max(1, args.warm_rounds)):
            jit0 = jit_cpu(settings)
            base = count(es, settings.index_alias)
            ids = range(10_000_000 + rnd * n_warm, 10_000_000 + (rnd + 1) * n_warm)
            for i in ids:
                key, value = corpus.message(i)
                prod.send(settings.topic_raw, key=key, value=value)
            prod.flush()
            expected = base + sum(1 for i in ids if not corpus.rejected(i))
            t0 = time.monotonic()
            with progress(f"warm-up round {rnd + 1}: searchable", expected - base) as update:
                while (c := count(es, settings.index_alias)) < expected and time.monotonic() - t0 < 300:
                    update(c - base)
                    if not worker.alive():
                        raise RuntimeError(f"worker exited during the warm-up:\n{worker.text()[-3000:]}")
                    time.sleep(0.5)
            if count(es, settings.index_alias) < expected:
                print(f"  WARNING: warm-up round {rnd + 1} not all searchable after 300 s", flush=True)
            jit = jit_cpu(settings) - jit0
            print(
                f"  warm-up round {rnd + 1}: {n_warm} articles searchable after {time.monotonic() - t0:.1f} s; "
                f"the services' JIT compiler threads meanwhile {jit:.1f} CPU-s",
                flush=True,
            )
            if jit < JIT_QUIET_CPU_S:
                break
        else:
            print(f"  WARNING: the JIT compilers were still busy after {args.warm_rounds} warm-up rounds", flush=True)
        base_docs = count(es, settings.index_alias)
        dl_count = DeadLetterCounter(settings)
        base_dl = dl_count()

        # ---- throughput
        meter = CpuMeter(settings, worker)
        meter.start()
        t_start = time.time()
        futures = []
        for i in range(args.n):
            key, value = corpus.message(i, iso(time.time()))
            futures.append((key, value, prod.send(settings.topic_raw, key=key, value=value)))
        prod.flush()
        resent, last_error = 0, None
        for key, value, fut in futures:  # kafka-python 3.0.12 refuses some sends of a fast burst: send again
            try:
                fut.get(timeout=60)
            except Exception as exc:
                resent, last_error = resent + 1, repr(exc)
                prod.send(settings.topic_raw, key=key, value=value).get(timeout=60)
        t_published = time.time() - t_start
        if resent:
            print(f"  {resent} of {args.n} sends were refused by the producer ({last_error}) and sent again one by one")
        docs = dls = 0
        last_progress, last_total, next_dl = time.time(), -1, 0.0
        marks_at: list[tuple[float, int]] = []  # (seconds since the first send, accounted for)
        bar = progress("throughput: accounted for", args.n)
        update = bar.__enter__()
        while True:
            docs = count(es, settings.index_alias) - base_docs
            if time.time() >= next_dl or docs + dls >= args.n:
                dls = dl_count() - base_dl
                next_dl = time.time() + 2.0
            total = docs + dls
            marks_at.append((time.time() - t_start, total))
            update(total)
            if total >= args.n:
                break
            if total != last_total:
                last_total, last_progress = total, time.time()
            elif time.time() - last_progress > 90:
                print(f"  WARNING: no progress for 90 s at {docs} documents + {dls} dead letters of {args.n}")
                break
            if not worker.alive():
                raise RuntimeError(f"worker exited:\n{worker.text()[-3000:]}")
            worker.sample_memory()
            time.sleep(0.5)
        bar.__exit__(None, None, None)
        secs = time.time() - t_start
        cpu_line = meter.report()
        max_rate = args.n / secs
        marks = {q: next((t for t, c in marks_at if c >= q * args.n / 100), secs) for q in (10, 50, 90)}
        print(
            f"  accounted for: 10% after {marks[10]:.1f} s, 50% after {marks[50]:.1f} s, 90% after {marks[90]:.1f} s, "
            f"100% after {secs:.1f} s; rate from 10% to 90%: {0.8 * args.n / (marks[90] - marks[10]):.2f} articles/s",
            flush=True,
        )
        print(
            f"throughput: {args.n} articles published in {t_published:.1f} s; all accounted for after {secs:.1f} s "
            f"({docs} searchable, {dls} dead letters): {max_rate:.2f} articles/s "
            f"({docs / secs:.2f} documents/s)",
            flush=True,
        )
        print(f"  {cpu_line}", flush=True)
        pipe_rate_ner = (args.n - sum(1 for i in range(args.n) if corpus.rejected(i))) / secs
        if ner:
            ner_rate = ner[1] / ner[0]
            print(
                f"ratio pipeline/NER-only (NER limit measured before): {pipe_rate_ner / ner_rate:.3f} "
                f"(articles that reach NER per second: {pipe_rate_ner:.2f} vs {ner_rate:.2f})",
                flush=True,
            )

        monitor = Monitor(settings, worker)
        monitor.start()
        steady = args.steady or max_rate / 2
        next_i = args.n

        # ---- latency at a steady load
        if not args.skip_latency:
            t_phase = time.time()
            dl0 = dl_count()
            i0 = next_i
            sender = Sender(prod, settings.topic_raw)
            next_i, pub_secs = publish_at(
                sender, corpus, next_i, lambda e: steady if e < args.latency_seconds else None
            )
            sent = sender.delivered
            if sender.failed:
                print(f"  {sender.failed} sends refused by the producer: {dict(sender.errors)}")
            expected = sent - sum(1 for i in range(i0, next_i) if corpus.rejected(i))
            deadline = time.time() + 120
            while len(monitor.visible_since(t_phase)) < expected and time.time() < deadline:
                time.sleep(0.5)
            lat = [v - f for v, f in monitor.visible_since(t_phase)]
            dl_phase = dl_count() - dl0
            print(
                f"latency at {steady:.2f} articles/s offered ({'set by --steady' if args.steady else 'half the maximum'}) for {pub_secs:.0f} s: {sent} sent, "
                f"{len(lat)} searchable, {dl_phase} dead letters; publish -> visible to search "
                f"(polled every 0.2 s, refresh {settings.refresh_interval} included): "
                f"p50 {pct(lat, 50):.2f} s, p95 {pct(lat, 95):.2f} s, p99 {pct(lat, 99):.2f} s, "
                f"max {max(lat) if lat else float('nan'):.2f} s",
                flush=True,
            )
            print_latency_detail(monitor, t_phase, corpus)

        # ---- burst: steady 10 s, 10x for burst-seconds, steady until drained
        if not args.skip_burst:
            t_phase = time.time()
            dl_base = dead_letter_list(settings)
            i0 = next_i
            state: dict[str, Any] = {"backlog": 0, "drained_at": None, "dl": 0, "sent": 0}
            b0, b1 = 10.0, 10.0 + args.burst_seconds
            print(
                f"burst: {steady:.2f}/s for {b0:.0f} s, {10 * steady:.2f}/s for {args.burst_seconds:.0f} s, "
                f"then {steady:.2f}/s until the backlog drains (at most 240 s)"
            )
            print("     t  offered/s  published  searchable  dead  backlog")

            def schedule(e: float):
                if e < b0:
                    return steady
                if e < b1:
                    return 10 * steady
                if (state["drained_at"] and e > state["drained_at"] + 10) or e > 240:
                    return None
                return steady

            def report():
                t_next = time.time()
                while not stop_report.is_set():
                    e = time.time() - t_phase
                    vis = len(monitor.visible_since(t_phase))
                    dl = dl_count() - len(dl_base)
                    sender.check()
                    backlog = max(0, sender.delivered - vis - dl)
                    state["backlog"], state["dl"] = backlog, dl
                    if e > b1 and state["drained_at"] is None and backlog <= max(3, 3 * steady):
                        state["drained_at"] = e
                    print(
                        f"  {e:5.1f}  {schedule(e) or 0:9.2f}  {sender.delivered:9d}  {vis:10d}  {dl:4d}  {backlog:7d}",
                        flush=True,
                    )
                    t_next += 2.0
                    stop_report.wait(max(0.0, t_next - time.time()))

            sender = Sender(prod, settings.topic_raw)
            stop_report = threading.Event()
            reporter = threading.Thread(target=report, daemon=True)
            reporter.start()
            next_i, pub_secs = publish_at(sender, corpus, next_i, schedule)
            time.sleep(2.5)
            stop_report.set()
            reporter.join()
            sent = sender.delivered
            if sender.failed:
                print(f"  {sender.failed} sends refused by the producer: {dict(sender.errors)}")
            dl_now = dead_letter_list(settings)[len(dl_base) :]
            expected_dl = sum(1 for i in range(i0, next_i) if corpus.rejected(i))
            reasons = Counter(f"{x.stage}: {x.reason}" for x in dl_now)
            drained = state["drained_at"]
            print(
                f"burst: {sent} sent in {pub_secs:.0f} s; backlog back to the steady level "
                f"(<= {max(3, 3 * steady):.0f} articles in flight) "
                + (f"{drained - b1:.1f} s after the burst ended" if drained else "NOT reached")
                + f"; dead letters {len(dl_now)} (explained by content: {expected_dl})"
                + (f"; reasons: {dict(reasons)}" if reasons else ""),
                flush=True,
            )
            lat = [v - f for v, f in monitor.visible_since(t_phase)]
            print(
                f"burst latency publish -> visible: p50 {pct(lat, 50):.2f} s, p95 {pct(lat, 95):.2f} s, "
                f"max {max(lat) if lat else float('nan'):.2f} s",
                flush=True,
            )
            print_latency_detail(monitor, t_phase, corpus)

        mem = worker.sample_memory()
        if not args.profile and mem:
            mib = {pid: kib / 1024 for pid, kib in mem.items()}
            print(
                f"peak RSS (VmHWM) of the worker's {len(mib)} processes: sum {sum(mib.values()):.0f} MiB, "
                f"max {max(mib.values()):.0f} MiB ("
                + ", ".join(f"{v:.0f}" for v in sorted(mib.values(), reverse=True))
                + " MiB)",
                flush=True,
            )
        prod.close()
    finally:
        if monitor:
            monitor.stop_flag.set()
        if dl_count:
            dl_count.close()
        if args.profile and worker.proc is not None and worker.alive():
            os.killpg(worker.proc.pid, signal.SIGINT)  # py-spy writes its output when its child exits
            try:
                worker.proc.wait(timeout=120)
            except Exception:
                worker.stop()
        worker.stop()
        delete_aliases(es, [settings.index_alias])
        delete_topics(settings, [env["WATCHLIST_ALERT_TOPIC"]])
        if args.keep_logs:
            print(f"worker log kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    if ner and pipe_rate_ner:
        # the machine is shared: its speed drifts over minutes. The NER limit is
        # measured again once the worker has stopped, and the ratio taken
        # against the mean of the two runs, which bracket the throughput phase.
        again = ner_limit(corpus, args.n, p, settings.spacy_model)
        before, after = ner[1] / ner[0], again[1] / again[0]
        mean = (before + after) / 2
        print(
            f"NER limit again, after the worker stopped: {again[1]} articles in {again[0]:.1f} s = {after:.2f} "
            f"articles/s, {again[4]:.1f} CPU-s, {again[5]:.1f} in the kernel (before: {before:.2f} articles/s, {ner[4]:.1f} CPU-s)",
            flush=True,
        )
        print(
            f"ratio pipeline/NER-only: {pipe_rate_ner / mean:.3f} against the mean NER limit {mean:.2f} articles/s "
            f"({pipe_rate_ner / before:.3f} against the run before, {pipe_rate_ner / after:.3f} against the run "
            f"after); target >= 0.85",
            flush=True,
        )
    if args.profile:
        print(f"profile: {out} (py-spy 0.4.3, 50 samples/s, all processes, idle threads excluded)")
        if out.exists():
            rows = summarise_profile(out)
            total = sum(r[1] for r in rows)
            print(f"samples by stage ({total} samples):")
            for name, n, share in rows:
                print(f"  {name:<48} {n:7d}  {100 * share:5.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
