"""Every command the README shows runs here as written (issue 17, point 2), so the README cannot drift.

The commands are read from README.md's code blocks, not copied: a command added to the README without a
way to check it fails :func:`test_every_command_is_run_or_listed_as_not_runnable_here`. Each block runs in
order, as a user would type it, in a scratch folder holding the files the README names (``page.html``,
``article.txt``, ``a.html``) and links to ``.venv`` and ``examples``; each test has its own topics, consumer
groups and index (``NEWSSTREAM_*`` variables). Two substitutions, the same for every reader: the producer
examples' broker address and topic (``127.0.0.1:9092``, ``articles.raw``) become the test's.

Commands that cannot run here are listed in :data:`NOT_HERE` with the reason, and checked for what can
be checked without running them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import orjson
import pytest
import typer

from streams.cli import app
from streams.delivery.deadletters import read_letters
from streams.publish import ensure_topics
from streams.records import decode_raw
from streams.settings import SECRET_FIELDS, Settings
from tests.conftest import RFI, ROOT, indexed_docs, isolated_env, settings_from, wait_for
from tests.one_article import html_page

README = ROOT / "README.md"
RFI_TITLE = "US Secretary of State Antony Blinken shows support for Kazakhstan"

#: Commands that cannot run here, and why; each is checked by :func:`check_not_here`.
NOT_HERE = {
    "./dev test": "it is this test suite (CI runs it: .ci/run)",
    ".venv/bin/python bench/extraction.py": "a benchmark: minutes of CPU, figures in bench/README.md",
    ".venv/bin/python bench/enrichment.py": "a benchmark: minutes of CPU, figures in bench/README.md",
    ".venv/bin/python bench/indexing.py": "a benchmark: minutes of CPU, figures in bench/README.md",
    ".venv/bin/python bench/pipeline.py": "a benchmark: minutes of CPU, figures in bench/README.md",
    ".venv/bin/python bench/dedupe.py": "a benchmark of the development set, which CI may not have",
    ".venv/bin/python bench/entities.py": "a benchmark: minutes of CPU, figures in bench/README.md",
    # the services the whole suite shares: changing their layout or stopping them would break the other tests;
    # tests/conftest.py's secure_services and cluster_services fixtures run what these commands run
    # (streams.local.services.up(secure=True), up(kafka_brokers=3, elasticsearch_nodes=2), down) on services
    # of their own, and tests/local/test_cli_services.py runs `services up` options through the CLI
    "newsstream services up --secure": "would turn the suite's shared services secure (tests/local runs it on its own)",
    "newsstream services up --kafka-brokers 3 --elasticsearch-nodes 2": "would replace the suite's shared services "
    "with clusters (tests/local/test_cluster.py runs them on its own)",
    "newsstream services down": "would stop the services the rest of the suite uses (the fixtures run it on theirs)",
}

#: Whole blocks that cannot run here, by their first command; every command of them is checked by
#: :func:`test_blocks_not_run_here` (syntax, the settings they name, the files they name, the commands).
NOT_HERE_BLOCKS = {
    'eval "$(.venv/bin/python - <<': "needs the secure layout (services up --secure), which the suite's shared "
    "services do not run; tests/local/test_secure.py and the security tests connect every client so",
    "cp .env.example .env": "no Docker engine here",
    "docker compose cp ": "no Docker engine here",
    "export NEWSSTREAM_ELASTICSEARCH_CLOUD_ID=": "Elastic Cloud and Confluent Cloud: accounts and clusters elsewhere",
    "curl --cacert http_ca.crt": "a self-managed, secured Elasticsearch elsewhere",
    "export NEWSSTREAM_KAFKA_BOOTSTRAP=b-1.": "Amazon MSK: a cluster elsewhere",
}


def not_here_block(block: list[str]) -> str | None:
    """The key of :data:`NOT_HERE_BLOCKS` the block starts with, if any."""
    return next((k for k in NOT_HERE_BLOCKS if block and block[0].startswith(k)), None)


# ---------------------------------------------------------------- reading the README


def code_blocks(text: str) -> list[tuple[str, str]]:
    """``[(language, body)]`` of the fenced code blocks, indented ones (in list items) too."""
    blocks = []
    for m in re.finditer(r"^( *)```(\w*)\n(.*?)^\1```", text, re.MULTILINE | re.DOTALL):
        indent = len(m.group(1))
        body = "\n".join(line[indent:] for line in m.group(3).splitlines())
        blocks.append((m.group(2), body))
    return blocks


def _strip_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (a ``#`` outside quotes, after a space)."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _incomplete(command: str) -> bool:
    """True while ``command`` is not a whole shell command yet (an open quote, parenthesis or here-document)."""
    return subprocess.run(["bash", "-n", "-c", command], capture_output=True).returncode != 0


def shell_commands(body: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, a here-document kept with its command,
    comments and blank lines dropped."""
    out: list[str] = []
    pending = ""
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1].rstrip() + " "
            continue
        command = (pending + line) if re.search(r"<<-?\s*'?\w+'?", line) else _strip_comment(pending + line)
        pending = ""
        if re.search(r"<<-?\s*'?\w+'?", command):  # a here-document: its lines, then the rest of the command
            while i < len(lines) and _incomplete(command):
                command += "\n" + lines[i]
                i += 1
        if command.strip():
            out.append(command.strip())
    return out


def sh_blocks() -> list[list[str]]:
    return [shell_commands(body) for lang, body in code_blocks(README.read_text("utf-8")) if lang == "sh"]


def block_with(first: str) -> list[str]:
    """The shell block whose first command is ``first``."""
    [block] = [b for b in sh_blocks() if b and b[0] == first]
    return block


def parses(args: list[str]) -> bool:
    """True when ``newsstream ARGS`` names a command and its arguments parse (nothing is run)."""
    cmd = typer.main.get_command(app)
    ctx = cmd.make_context("newsstream", [], resilient_parsing=True)
    while args and hasattr(cmd, "commands"):
        name, args = args[0], args[1:]
        cmd = cmd.commands[name]  # KeyError: no such command
        ctx = cmd.make_context(name, list(args), parent=ctx)
        # a group keeps its sub-command's name and arguments aside (click's protected arguments)
        rest = list(getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", None) or [])
        args = rest + list(ctx.args) if hasattr(cmd, "commands") else []
    return True


# ---------------------------------------------------------------- running commands


class Shell:
    """Runs README commands in ``cwd`` with ``env``, as typed; ``prefix`` (``. .venv/bin/activate``) first."""

    def __init__(self, cwd: Path, env: dict[str, str], prefix: str = "") -> None:
        self.cwd = cwd
        self.env = {**os.environ, **env}
        self.env.pop("VIRTUAL_ENV", None)
        self.prefix = prefix
        self.background: list[tuple[subprocess.Popen, Path]] = []

    def script(self, command: str) -> str:
        return f"set -e\n{self.prefix}\n{command}\n" if self.prefix else f"set -e\n{command}\n"

    def run(self, command: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", self.script(command)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, command: str, log: Path) -> subprocess.Popen:
        """Start a long-running command (``newsstream worker &``) in its own process group."""
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                ["bash", "-c", self.script(command.rstrip("& "))],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.background.append((proc, log))
        return proc

    def stop_all(self) -> None:
        for proc, _ in self.background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in self.background:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(log.read_text(errors="replace")[-3000:] for _, log in self.background if log.exists())


def expect(shell: Shell, command: str, *, wanted: str, timeout: float = 60, retry_for: float = 0) -> str:
    """Run ``command``; it must exit 0 with ``wanted`` in its output, trying again for ``retry_for`` seconds
    (a search waits for the worker to index what was published)."""
    deadline = time.monotonic() + retry_for
    while True:
        done = shell.run(command, timeout=timeout)
        output = done.stdout + done.stderr
        if done.returncode == 0 and wanted in output:
            return done.stdout
        if time.monotonic() > deadline:
            pytest.fail(
                f"README command {command!r} exited {done.returncode} without {wanted!r}:\n{output[-3000:]}\n"
                f"background logs:\n{shell.logs()}"
            )
        time.sleep(3)


def run_block(shell: Shell, commands: list[str], tmp: Path) -> None:
    """Run one README block's commands in order, each checked by its kind (an unknown kind fails)."""
    for command in commands:
        words = command.split()
        if command == ". .venv/bin/activate":
            shell.prefix = command  # every later command of the block runs in the activated environment
            continue
        if command.endswith("&") or (words[:2] == ["newsstream", "worker"] and "--only" in words):
            log = tmp / f"background-{len(shell.background)}.log"
            proc = shell.start(command, log)
            wait_for(
                lambda log=log, proc=proc: "Ready" in log.read_text(errors="replace") or proc.poll() is not None,
                240,
                what=f"{command!r} to start",
            )
            assert proc.poll() is None, f"{command!r} exited:\n{log.read_text(errors='replace')[-3000:]}"
            continue
        kind = " ".join(words[:3]) if words[:1] == ["newsstream"] else words[0]
        checks = {
            "newsstream --version": {"wanted": "newsstream "},
            "newsstream services up": {"wanted": "running", "timeout": 300},
            "newsstream services status": {"wanted": "healthy"},
            "newsstream publish examples/articles": {"wanted": "published 1 article(s)"},
            # the same article again: it is the one document it was (one article, one document)
            "newsstream publish --wait examples/articles": {
                "wanted": "all in: 1 published, 1 indexed, 0 dead-lettered",
                "timeout": 300,
            },
            "newsstream status": {"wanted": "documents"},
            # exit 0: nothing missing, no article with two documents
            "newsstream audit": {"wanted": "published", "timeout": 360},
            "newsstream parse page.html": {"wanted": '"title":"Lisbon opens a new ferry terminal on the Tagus"'},
            "newsstream enrich article.txt": {"wanted": '"persons":["Antony Blinken"', "timeout": 180},
            "newsstream dlq show": {"wanted": "dead letter(s)"},
            "newsstream dlq replay": {"wanted": "replay"},
            "newsstream dlq discard": {"wanted": "discarded"},
            "newsstream agents list": {"wanted": "parse"},
            "pip": {"wanted": "", "timeout": 300},
        }
        if words[:2] == ["newsstream", "search"]:
            # each search the README shows finds the bundled article, once the worker has indexed it
            wanted = '"title":"' + RFI_TITLE if "--json" in words else RFI_TITLE
            expect(shell, command, wanted=wanted, retry_for=300)
            continue
        key = next((k for k in checks if kind == k or kind.startswith(k) or command.startswith(k)), None)
        assert key is not None, f"README command {command!r} has no check in tests/test_readme.py: add one"
        expect(shell, command, **checks[key])  # type: ignore[arg-type]


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A folder as a user has it: the repository's .venv and examples, and the files the README names."""
    work = tmp_path / "work"
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")
    (work / "examples").symlink_to(ROOT / "examples")
    (work / "page.html").write_text(html_page())
    shutil.copy(RFI, work / "article.txt")
    (work / "a.html").write_text(html_page(canonical=None))  # a page naming no canonical URL of its own
    return work


@pytest.fixture
def readme_env(services, request):
    """Topics, consumer groups and index of this test only; removed afterwards."""
    from tests.conftest import _cleanup  # noqa: PLC0415  (the suite's own clean-up of a namespace)

    env = isolated_env("readme" + request.node.name[5:9].lower())
    yield env
    _cleanup(settings_from(env))


# ---------------------------------------------------------------- the tests


def test_every_command_is_run_or_listed_as_not_runnable_here():
    commands = [c for block in sh_blocks() if not not_here_block(block) for c in block]
    covered = set(NOT_HERE)
    covered |= set(block_with("./dev demo")) | set(block_with(". .venv/bin/activate"))
    covered |= set(block_with("pip install -e examples/plugin"))
    covered |= set(block_with("newsstream audit --wait 300"))  # run by test_using_it_and_the_producer_examples
    covered |= {c for c in commands if c.startswith("kcat ")}
    missing = [c for c in commands if c not in covered]
    assert not missing, f"README commands no test runs or lists: {missing}"
    stale = [c for c in NOT_HERE if c not in commands]
    assert not stale, f"NOT_HERE lists commands the README no longer shows: {stale}"
    found = {not_here_block(b) for b in sh_blocks()}
    stale = [c for c in NOT_HERE_BLOCKS if c not in found]
    assert not stale, f"NOT_HERE_BLOCKS lists blocks the README no longer shows: {stale}"


def check_command(command: str) -> None:
    """What can be checked of a command that does not run: syntax, and what it refers to."""
    assert not _incomplete(command), f"not a whole shell command: {command!r}"
    words = command.split()
    for name in re.findall(r"\bNEWSSTREAM_[A-Z0-9_]+", command):
        field = name.removeprefix("NEWSSTREAM_").lower()
        if field not in Settings.model_fields and field.endswith("_file"):
            field = field.removesuffix("_file")  # NEWSSTREAM_<SECRET>_FILE: the secret's file
            assert field in SECRET_FIELDS, f"{name} in {command!r}: only secrets are read from _FILE variables"
        assert field in Settings.model_fields, f"{name} in {command!r} is no setting"
    for path in re.findall(r"(?<![\w./])((?:deploy|examples|bench|tests|streams)/[\w./-]+|\.env\.example)", command):
        assert (ROOT / path).exists(), f"{command!r} names {path}, which the repository does not have"
    if command == "./dev test":
        assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("exec ./dev test")
        assert "  test)" in (ROOT / "dev").read_text()
    elif words[:2] == ["docker", "compose"]:
        import yaml  # noqa: PLC0415  (the [test] extra's, only for this check)

        compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
        if "run" in words:
            service = words[words.index("--rm") + 1]
            assert service in compose["services"]
            # what follows the service is a newsstream command: it must parse as one
            assert parses(words[words.index(service) + 1 :])
        if words[2] == "cp":
            assert words[3].split(":")[0] in compose["services"]
        docker = shutil.which("docker")
        # with the compose plugin, the docker CLI checks the file without an engine
        # (tests/test_compose.py checks its structure either way)
        if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
            checked = subprocess.run([docker, "compose", "config", "--quiet"], cwd=ROOT, capture_output=True, text=True)
            assert checked.returncode == 0, checked.stderr
    elif "newsstream" in words:
        assert parses(words[words.index("newsstream") + 1 :])
    elif words[0] == ".venv/bin/python" and words[1].endswith(".py"):
        script = ROOT / words[1]
        assert script.is_file(), f"{script} is missing"
        usage = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
        assert usage.returncode == 0 and "usage" in usage.stdout.lower(), usage.stderr


@pytest.mark.parametrize("command", sorted(NOT_HERE))
def test_check_not_here(command):
    check_command(command)


@pytest.mark.parametrize("first", sorted(NOT_HERE_BLOCKS), ids=lambda c: c[:40])
def test_blocks_not_run_here(first):
    """Blocks that need what is not here (Docker, clouds, secured clusters): each command checked."""
    [block] = [b for b in sh_blocks() if not_here_block(b) == first]
    for command in block:
        check_command(command)


def test_the_json_envelope_and_the_plugin_declaration_are_what_the_code_reads():
    blocks = code_blocks(README.read_text("utf-8"))
    [envelope] = [body for lang, body in blocks if lang == "json"]
    raw = decode_raw(json.dumps(json.loads(envelope)).encode())
    assert raw.content_type == "html" and raw.url == "https://example.org/a" and raw.source == "example"
    [toml] = [body for lang, body in blocks if lang == "toml"]
    declared = tomllib.loads((ROOT / "examples" / "plugin" / "pyproject.toml").read_text())["project"]
    assert tomllib.loads(toml)["project"]["entry-points"] == declared["entry-points"]
    [plugin] = [body for lang, body in blocks if lang == "python" and "newsstream_watchlist" in body]
    code = (ROOT / "examples" / "plugin" / "newsstream_watchlist" / "__init__.py").read_text()
    assert plugin == "# newsstream_watchlist/__init__.py\n" + code.rstrip("\n")


def test_the_two_commands_dev_demo(readme_env, tmp_path):
    """``./dev demo`` as written: it ends with the RFI article as the README shows it."""
    shell = Shell(ROOT, readme_env)
    out = expect(shell, "./dev demo", wanted=RFI_TITLE, timeout=900)
    shown = next(body for lang, body in code_blocks(README.read_text("utf-8")) if body.startswith(RFI_TITLE))
    for line in shown.splitlines():
        assert line in out, f"the README shows {line!r}; ./dev demo printed:\n{out}"


def test_using_it_and_the_producer_examples(readme_env, scratch, tmp_path):
    """The "Using it" block in order, with dead letters to show; then kcat's and kafka-python's examples."""
    settings = settings_from(readme_env)
    ensure_topics(settings)
    from streams import kafka  # noqa: PLC0415

    producer = kafka.producer(settings)  # letters for the dlq commands to show, replay and discard
    producer.send(settings.topic_raw, key=b"short", value=b"Nothing here", headers=[("source", b"feed")]).get(30)
    producer.send(settings.topic_raw, key=b"junk", value=b"\x00\x01binary\xff").get(30)
    producer.close()
    shell = Shell(scratch, readme_env)
    try:
        run_block(shell, block_with(". .venv/bin/activate"), tmp_path)
        assert {c.letter.reason for c in read_letters(settings)} >= {"no article text", "binary input"}

        # kcat, as written (the broker and topic are the test's)
        [kcat] = [c for block in sh_blocks() for c in block if c.startswith("kcat ")]
        kcat = kcat.replace("127.0.0.1:9092", settings.kafka_bootstrap).replace(
            " articles.raw ", f" {settings.topic_raw} "
        )
        done = shell.run(kcat, timeout=60)
        assert done.returncode == 0, done.stderr

        def doc_of_a(content_type: str):
            def check():
                letters = [c.letter for c in read_letters(settings, 2) if c.letter.url == "https://example.org/a"]
                assert not letters, f"the README's example was dead-lettered: {letters[0].reason}: {letters[0].detail}"
                docs = [
                    h["_source"] for h in indexed_docs(settings) if h["_source"].get("url") == "https://example.org/a"
                ]
                return len(docs) == 1 and docs[0]["content_type"] == content_type and docs[0]

            return check

        # the kcat text is short, but it is a sentence: an article, indexed
        doc = wait_for(doc_of_a("text"), 240, what="the kcat example indexed")
        assert (doc["title"], doc["body"]) == ("Title", "First paragraph...")

        # kafka-python, as written: the same URL, so the same article; its HTML page is the richer record
        [snippet] = [
            b for lang, b in code_blocks(README.read_text("utf-8")) if lang == "python" and "KafkaProducer" in b
        ]
        snippet = snippet.replace("127.0.0.1:9092", settings.kafka_bootstrap).replace(
            '"articles.raw"', f'"{settings.topic_raw}"'
        )
        done = subprocess.run([sys.executable, "-c", snippet], cwd=scratch, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        doc = wait_for(doc_of_a("html"), 240, what=f"the kafka-python example indexed; {shell.logs()}")
        assert doc["title"] == "Lisbon opens a new ferry terminal on the Tagus" and doc["publisher"] == "Harbour News"
        assert not [c for c in read_letters(settings) if c.letter.url == "https://example.org/a"]

        # the audit's block, as written: every message so far indexed or dead-lettered, none missing
        run_block(shell, block_with("newsstream audit --wait 300"), tmp_path)
    finally:
        shell.stop_all()


def test_the_plugin_block(readme_env, tmp_path):
    """``pip install -e examples/plugin`` and the commands after it, from the repository root."""
    shell = Shell(ROOT, readme_env, prefix=". .venv/bin/activate")
    try:
        run_block(shell, block_with("pip install -e examples/plugin"), tmp_path)
        hits = [orjson.loads(line) for line in shell.run("newsstream search Blinken --json").stdout.splitlines()]
        assert hits and hits[0]["extra"] == {"watchlist": ["Antony Blinken"]}
    finally:
        shell.stop_all()
