"""The layer contract (pyproject.toml, checked by import-linter in ./dev test) names every
part of the code: a new module must be given its floor, or the contract would not see it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _contract(name: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [contract] = [c for c in config["tool"]["importlinter"]["contracts"] if c["name"] == name]
    return contract


def _top_level(package: str) -> set[str]:
    """``package.x`` for every module ``x.py`` and subpackage ``x/`` of ``package``."""
    folder = ROOT / package.replace(".", "/")
    modules = {p.stem for p in folder.glob("*.py") if p.stem not in ("__init__", "__main__")}
    packages = {p.parent.name for p in folder.glob("*/__init__.py")}
    return {f"{package}.{name}" for name in modules | packages}


def test_every_module_of_streams_has_a_layer():
    layers = _contract("imports point down")["layers"]
    named = {part.strip() for layer in layers for part in layer.split("|")}
    assert _top_level("streams") <= named, sorted(_top_level("streams") - named)
    assert "indexers" in named


def test_only_the_cli_may_import_the_local_services():
    contract = _contract("the local services and the demo are the CLI's (and the tests' and benchmarks')")
    others = _top_level("streams") - {"streams.cli", "streams.local"}
    assert others | {"indexers"} <= set(contract["source_modules"])
