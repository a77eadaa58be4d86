"""Bad settings are one line naming the variable, what was wrong and what is expected, for every command
(issue 17, point 6); help texts read well and name the environment variables; ``--version``."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from streams.cli import app
from streams.settings import ConfigurationError, get_settings
from tests.conftest import RFI, run_cli

runner = CliRunner()

#: Every command, with arguments that would otherwise let it start.
COMMANDS = [
    ["publish", str(RFI)],
    ["worker"],
    ["parse", str(RFI)],
    ["enrich", str(RFI)],
    ["search", "x"],
    ["status"],
    ["audit"],
    ["demo"],
    ["dlq", "show"],
    ["dlq", "replay"],
    ["dlq", "discard", "--id", "0@1"],
    ["agents", "list"],
    ["kibana", "import"],
    ["services", "up"],
    ["services", "down"],
    ["services", "status"],
]

# the variable, what was wrong and what is expected; never the value given (it could be a secret)
PARTITIONS = (
    "error: settings: NEWSSTREAM_PARTITIONS: Input should be a valid integer, unable to parse string as an integer "
    "(expected a whole number at least 1, default 2: partitions of each topic newsstream creates)"
)
ENRICHERS = (
    "error: settings: NEWSSTREAM_ENRICHERS: not JSON (Expecting value: line 1 column 1 (char 0)) "
    '(expected a JSON list of "module:attribute" strings, e.g. \'["mymodule:sentiment"]\': '
    "extra enrichers not installed as packages)"
)


def _all_commands(leaves_only: bool = False) -> list[list[str]]:
    """Every command path of the CLI (``[]``, ``["dlq"]``, ``["dlq", "show"]`` ...), from typer's command tree."""
    paths: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None) or {}
        if not (leaves_only and subs):
            paths.append(path)
        for name, sub in subs.items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_the_list_above_is_every_command():
    named = [c[:2] if c[0] in ("dlq", "agents", "kibana", "services") else c[:1] for c in COMMANDS]
    assert sorted(_all_commands(leaves_only=True)) == sorted(named)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("NEWSSTREAM_PARTITIONS", "abc", PARTITIONS), ("NEWSSTREAM_ENRICHERS", "sentiment", ENRICHERS)],
    ids=["partitions", "enrichers"],
)
def test_a_bad_setting_is_one_line_for_every_command(command, variable, value, message):
    result = runner.invoke(app, command, env={variable: value})
    assert result.exit_code == 1, result.output
    assert result.stderr == message + "\n"
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["worker"], ["publish", str(RFI)], ["dlq", "show"]], ids=" ".join)
def test_the_real_command_prints_no_traceback(command):
    result = run_cli({"NEWSSTREAM_PARTITIONS": "abc"}, *command, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [PARTITIONS]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NEWSSTREAM_ELASTICSEARCH_URL", "localhost:9200", "must be an http:// or https:// URL"),
        ("NEWSSTREAM_KAFKA_BOOTSTRAP", "localhost", "must be host:port, or a list host:port,host:port"),
        ("NEWSSTREAM_REFRESH_INTERVAL", "fast", "must be an Elasticsearch time value"),
        ("NEWSSTREAM_BULK_MAX_IN_FLIGHT", "0", "Input should be greater than or equal to 1"),
        ("NEWSSTREAM_AGENTS", '["alert"]', "every entry must be of the form 'module:attribute'"),
        ("NEWSSTREAM_WORKER_PROCESSES", "two", "Input should be a valid integer"),
    ],
)
def test_values_that_would_fail_later_are_refused_at_once(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        get_settings()
    assert str(caught.value).startswith(f"{variable}: ")
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert value not in str(caught.value).removeprefix(f"{variable}: ")


@pytest.mark.parametrize("command", _all_commands(), ids=lambda p: " ".join(p) or "newsstream")
def test_help_reads_well_and_names_the_variables(command):
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    for python_ism in ("<bool>", "<str>", "<int", "<list", "<float>", "<Path", "{", "settings.topic", "settings."):
        assert python_ism not in text, f"{' '.join(command)} --help shows {python_ism!r}:\n{text}"
    if not command or command in (["dlq"], ["agents"], ["kibana"], ["services"]):
        return  # groups: their commands name the variables
    if command == ["kibana", "import"]:
        return  # reads no NEWSSTREAM_* setting: Kibana's address is its --url
    assert "NEWSSTREAM_" in text, f"{' '.join(command)} --help names no environment variable:\n{text}"


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"newsstream {version('newsstream')}\n"
    assert run_cli({}, "--version", timeout=60).stdout == result.stdout
