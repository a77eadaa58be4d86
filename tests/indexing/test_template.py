"""The index template: explicit strict mapping, analysis chosen by what the cluster has."""

from __future__ import annotations

import dataclasses

from indexers.elasticsearch.client import sync_client
from indexers.elasticsearch.template import cluster_has_analysis_common, ensure_index, index_template, mappings
from streams.records import EnrichedArticle


def test_every_record_field_is_mapped_and_unknown_fields_are_rejected():
    props = mappings(False)["properties"]
    fields = {f.name for f in dataclasses.fields(EnrichedArticle)} - {"extra"}
    assert fields <= set(props), fields - set(props)
    assert mappings(False)["dynamic"] == "strict"
    assert props["published_at"]["type"] == props["ingested_at"]["type"] == "date"
    for name in ("persons", "organizations", "places", "tags", "keywords"):
        assert props[name]["type"] == "keyword"
    assert props["countries"]["type"] == "keyword"
    assert props["title"]["fields"]["keyword"]["type"] == "keyword"


def test_english_analysis_with_ascii_folding_only_where_the_cluster_has_it():
    full = index_template("articles", full_analysis=True)
    analyzer = full["template"]["settings"]["analysis"]["analyzer"]["article_text"]
    assert "asciifolding" in analyzer["filter"] and "english_stemmer" in analyzer["filter"]
    assert full["template"]["mappings"]["properties"]["body"]["analyzer"] == "article_text"
    plain = index_template("articles", full_analysis=False)
    assert "analysis" not in plain["template"]["settings"]
    assert plain["template"]["mappings"]["properties"]["body"]["analyzer"] == "standard"


def test_index_behind_alias_on_the_real_cluster(pipeline_env):
    _, settings, _ = pipeline_env
    es = sync_client(settings)
    info = ensure_index(es, settings.index_alias)
    assert info["index"] == f"{settings.index_alias}-v1"
    # the minimal distribution from Maven Central has no analysis-common
    assert info["analysis"] == ("english+asciifolding" if cluster_has_analysis_common(es) else "standard")
    assert es.indices.get_alias(name=settings.index_alias).body == {
        info["index"]: {"aliases": {settings.index_alias: {"is_write_index": True}}}
    }
    assert ensure_index(es, settings.index_alias) == info  # idempotent


def test_an_existing_index_takes_a_new_refresh_interval(pipeline_env):
    _, settings, _ = pipeline_env
    es = sync_client(settings)
    info = ensure_index(es, settings.index_alias, refresh_interval="1s")

    def refresh_interval() -> str:
        got = es.indices.get_settings(index=info["index"], name="index.refresh_interval")
        return got[info["index"]]["settings"]["index"]["refresh_interval"]

    assert refresh_interval() == "1s"
    ensure_index(es, settings.index_alias, refresh_interval="500ms")
    assert refresh_interval() == "500ms"
