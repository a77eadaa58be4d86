"""Plugin mistakes are caught where they are made: at load, at worker start, at the record."""

from __future__ import annotations

import pytest

from streams.plugins import PluginError, load_enrichers
from streams.records import EnrichedArticle
from streams.settings import Settings
from tests.conftest import run_cli


def test_unknown_plugin_module_is_a_clear_error():
    with pytest.raises(PluginError, match="cannot import 'nosuch'"):
        load_enrichers(Settings(enrichers=["nosuch:thing"]))


def test_enricher_returning_an_undeclared_field_is_an_error():
    [sloppy] = [
        e for e in load_enrichers(Settings(enrichers=["tests.e2e.plugins_for_tests:sloppy"])) if e.name == "sloppy"
    ]
    with pytest.raises(PluginError, match=r"undeclared field\(s\) \['oops'\]"):
        sloppy.run(EnrichedArticle(id="a", body="b", content_type="text"))


def test_field_clash_with_the_mapping_stops_the_worker_at_start(pipeline_env, tmp_path):
    env, _settings, _ = pipeline_env
    out = run_cli({**env, "NEWSSTREAM_ENRICHERS": '["tests.e2e.plugins_for_tests:clashing"]'}, "worker", timeout=180)
    assert out.returncode != 0
    assert "field 'persons' is mapped as 'keyword' in the index, the plugin declares 'integer'" in out.stderr
