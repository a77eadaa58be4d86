"""The Kibana saved objects file, and its import.

No Kibana runs on our machines, so the file is checked for what Kibana would
refuse or render broken: JSON per line, unique ids, references that resolve
(and match the names the panels and layers use), fields that exist in the
index mapping. The import is tested against a local HTTP server that answers
like Kibana's ``_import`` endpoint.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from indexers.elasticsearch.client import authorization_header
from indexers.elasticsearch.template import mappings
from indexers.kibana import DEFAULT_PATH, KibanaImportError, import_saved_objects, load_saved_objects
from streams.cli import app
from streams.settings import Settings

NDJSON = Path(__file__).resolve().parents[1] / "deploy" / "kibana" / "saved-objects.ndjson"
DATA_VIEW_ID = "newsstream-articles-dataview"
# Keys whose string values name index fields, wherever they appear.
FIELD_KEYS = {"sourceField", "field", "timeFieldName", "breakdownField"}
# Lens's pseudo-field of the count operation.
LENS_RECORDS = "___records___"


def _mapped_fields(properties: dict, prefix: str = "") -> set[str]:
    """Every field path of a mapping: ``title``, ``title.keyword``, ``entities.name``."""
    out: set[str] = set()
    for name, spec in properties.items():
        path = prefix + name
        out.add(path)
        for sub in spec.get("fields", {}):
            out.add(f"{path}.{sub}")
        if "properties" in spec:
            out |= _mapped_fields(spec["properties"], path + ".")
    return out


MAPPED = _mapped_fields(mappings(False)["properties"])
KEYWORD_TOP_LEVEL = {n for n, s in mappings(False)["properties"].items() if s.get("type") == "keyword"}


def _decoded(value):
    """Parse JSON-encoded strings (``panelsJSON``, ``searchSourceJSON``...) into data; others as they are."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _field_names(node) -> set[str]:
    """The index fields named anywhere in ``node``, JSON-encoded strings included."""
    found: set[str] = set()
    node = _decoded(node)
    if isinstance(node, dict):
        for key, value in node.items():
            if key in FIELD_KEYS and isinstance(value, str):
                found.add(value)
            else:
                found |= _field_names(value)
    elif isinstance(node, list):
        for item in node:
            found |= _field_names(item)
    return found


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return load_saved_objects(NDJSON)


@pytest.fixture(scope="module")
def by_id(objects) -> dict[tuple[str, str], dict]:
    return {(o["type"], o["id"]): o for o in objects}


def _one(objects, type_: str) -> dict:
    found = [o for o in objects if o["type"] == type_]
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def _lens_columns(obj: dict) -> dict[str, dict]:
    """``{layer_id: {column_id: column}}`` of a Lens object."""
    layers = {}
    for datasource in obj["attributes"]["state"]["datasourceStates"].values():
        for layer_id, layer in datasource.get("layers", {}).items():
            layers[layer_id] = layer["columns"]
    return layers


# ------------------------------------------------------------------ the file


def test_default_path_is_the_repo_file():
    assert DEFAULT_PATH == NDJSON
    assert NDJSON.is_file()


def test_every_line_is_a_json_object_with_type_id_attributes():
    lines = NDJSON.read_text(encoding="utf-8").splitlines()
    assert lines, "empty file"
    for n, line in enumerate(lines, start=1):
        obj = json.loads(line)  # raises with the line's content if not JSON
        assert isinstance(obj, dict), f"line {n}"
        for key in ("type", "id", "attributes"):
            assert key in obj, f"line {n} has no {key}"
        assert isinstance(obj["attributes"], dict), f"line {n}"
        assert isinstance(obj.get("references", []), list), f"line {n}"


def test_ids_are_unique(objects):
    ids = [o["id"] for o in objects]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_object_states_its_migration_version(objects):
    # Without typeMigrationVersion Kibana runs every migration since 7.x on the
    # object, and those assume the old shapes (Lens's 7.10 migration reads
    # datasourceStates.indexpattern): the import fails. 8.x/9.x exports carry it.
    for o in objects:
        assert o.get("typeMigrationVersion"), o["id"]
        assert o.get("coreMigrationVersion"), o["id"]


def test_every_reference_resolves_to_an_object_in_the_file(objects, by_id):
    for o in objects:
        for ref in o.get("references", []):
            assert {"type", "id", "name"} <= set(ref), (o["id"], ref)
            assert (ref["type"], ref["id"]) in by_id, f"{o['type']}/{o['id']} references missing {ref}"


def test_data_view_is_the_articles_alias_with_published_at_as_time_field(objects):
    dv = _one(objects, "index-pattern")
    assert dv["id"] == DATA_VIEW_ID
    assert dv["attributes"]["title"] == "articles"
    assert dv["attributes"]["timeFieldName"] == "published_at"
    assert mappings(False)["properties"]["published_at"]["type"] == "date"


def test_every_field_named_exists_in_the_index_mapping(objects):
    named: set[str] = set()
    for o in objects:
        named |= _field_names(o["attributes"])
        if o["type"] == "search":
            named |= set(o["attributes"].get("columns", []))
            named |= {s[0] for s in o["attributes"].get("sort", [])}
    named.discard(LENS_RECORDS)
    assert named, "no field found: the walk is broken"
    unknown = sorted(named - MAPPED)
    assert not unknown, f"fields not in the mapping: {unknown}"


def test_the_field_walk_sees_json_encoded_strings():
    # The walk must look inside panelsJSON-like strings, or the test above proves nothing.
    attrs = {"panelsJSON": json.dumps([{"embeddableConfig": {"attributes": {"sourceField": "nope"}}}])}
    assert _field_names(attrs) == {"nope"}


def test_saved_search_shows_the_article_columns_newest_first(objects):
    search = _one(objects, "search")
    attrs = search["attributes"]
    assert attrs["columns"] == ["title", "publisher", "persons", "places", "countries", "tags"]
    assert attrs["sort"] == [["published_at", "desc"]]
    source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
    ref_names = {r["name"]: r for r in search["references"]}
    assert source["indexRefName"] in ref_names
    assert ref_names[source["indexRefName"]]["id"] == DATA_VIEW_ID


def test_lens_layers_reference_the_data_view_by_layer_name(objects):
    lenses = [o for o in objects if o["type"] == "lens"]
    assert lenses
    for lens in lenses:
        refs = {r["name"]: r for r in lens["references"]}
        for layer_id, columns in _lens_columns(lens).items():
            name = f"indexpattern-datasource-layer-{layer_id}"
            assert name in refs, (lens["id"], name)
            assert refs[name]["type"] == "index-pattern" and refs[name]["id"] == DATA_VIEW_ID
            for col in columns.values():
                if col["operationType"] == "terms":
                    assert col["sourceField"] in KEYWORD_TOP_LEVEL, (lens["id"], col["sourceField"])
                    order = col["params"]["orderBy"]
                    if order.get("type") == "column":
                        assert order["columnId"] in columns, (lens["id"], order)


def test_dashboard_panels_resolve_and_cover_the_six_charts(objects, by_id):
    dashboard = _one(objects, "dashboard")
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dashboard["references"]}
    ops: dict[str, set[str]] = {}
    for panel in panels:
        assert {"type", "gridData", "panelIndex"} <= set(panel), panel
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 48, panel["panelIndex"]
        if "panelRefName" in panel:  # by reference: Kibana looks up "<panelIndex>:<panelRefName>"
            ref = refs.get(f"{panel['panelIndex']}:{panel['panelRefName']}")
            assert ref is not None, f"panel {panel['panelIndex']} has no reference"
            assert ref["type"] == panel["type"]
            target = by_id[(ref["type"], ref["id"])]
        else:  # by value
            target = {"type": panel["type"], "attributes": panel["embeddableConfig"]["attributes"]}
        if target["type"] == "lens":
            for columns in _lens_columns(target).values():
                for col in columns.values():
                    ops.setdefault(col.get("sourceField"), set()).add(col["operationType"])
    assert "date_histogram" in ops.get("published_at", set()), "no articles-over-time panel"
    for field in ("persons", "organizations", "places", "countries", "tags"):
        assert "terms" in ops.get(field, set()), f"no panel of top {field}"


# ------------------------------------------------------------------ load errors


def test_load_names_file_and_line_of_a_bad_line(tmp_path):
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"type": "search", "id": "a", "attributes": {}}\n\n{not json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.ndjson:3: not JSON"):
        load_saved_objects(bad)
    bad.write_text('{"type": "search", "id": "a"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.ndjson:1: saved object without attributes"):
        load_saved_objects(bad)


# ------------------------------------------------------------------ import against a local "Kibana"


class _FakeKibana(BaseHTTPRequestHandler):
    """Plays ``POST /api/saved_objects/_import``: records the request, answers ``server.answer``."""

    server: _KibanaServer

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        self.server.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
        status, payload = self.server.answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", payload["location"])
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST

    def log_message(self, *args):
        pass


class _KibanaServer(ThreadingHTTPServer):
    """The local "Kibana": what it was sent, and what it answers."""

    requests: list[dict[str, Any]]
    answer: tuple[int, dict[str, Any]]


@pytest.fixture
def kibana():
    yield from _serve("127.0.0.1")


@pytest.fixture
def other_host():
    """A second server on another loopback address: another host, as far as URLs go."""
    yield from _serve("127.0.0.2")


def _serve(address: str):
    server = _KibanaServer((address, 0), _FakeKibana)
    server.requests = []
    server.answer = (200, {"success": True, "successCount": 0, "successResults": []})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _form_files(headers: dict, body: bytes) -> dict[Any, tuple[str | None, Any]]:
    """``{field: (filename, content)}`` of a multipart/form-data body."""
    ctype = {k.lower(): v for k, v in headers.items()}["content-type"]
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {ctype}\r\n\r\n".encode() + body
    )
    assert msg.is_multipart()
    return {
        part.get_param("name", header="content-disposition"): (part.get_filename(), part.get_payload(decode=True))
        for part in msg.iter_parts()
    }


def test_import_posts_the_file_as_multipart_with_kbn_xsrf(kibana):
    server, url = kibana
    n = len(load_saved_objects())
    server.answer = (200, {"success": True, "successCount": n, "successResults": []})

    assert import_saved_objects(url + "/") == n

    (req,) = server.requests
    assert req["path"] == "/api/saved_objects/_import?overwrite=true"
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["kbn-xsrf"] == "true"
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    files = _form_files(req["headers"], req["body"])
    assert files["file"] == ("saved-objects.ndjson", NDJSON.read_bytes())


def test_import_without_overwrite_and_of_another_file(kibana, tmp_path):
    server, url = kibana
    other = tmp_path / "one.ndjson"
    other.write_text('{"type": "index-pattern", "id": "x", "attributes": {"title": "x"}}\n', encoding="utf-8")
    server.answer = (200, {"success": True, "successCount": 1})
    assert import_saved_objects(url, path=other, overwrite=False) == 1
    (req,) = server.requests
    assert req["path"] == "/api/saved_objects/_import"
    assert _form_files(req["headers"], req["body"])["file"] == ("one.ndjson", other.read_bytes())


def test_import_raises_with_kibanas_message_on_400(kibana):
    server, url = kibana
    server.answer = (400, {"statusCode": 400, "error": "Bad Request", "message": "Unexpected token in JSON"})
    with pytest.raises(KibanaImportError, match=r"HTTP 400.*Bad Request: Unexpected token in JSON") as info:
        import_saved_objects(url)
    assert info.value.status == 400
    assert "Unexpected token" in info.value.body


def test_import_raises_when_kibana_refuses_some_objects(kibana):
    server, url = kibana
    server.answer = (
        200,
        {
            "success": False,
            "successCount": 7,
            "errors": [
                {
                    "id": "newsstream-dashboard",
                    "type": "dashboard",
                    "error": {"type": "missing_references", "references": [{"type": "lens", "id": "gone"}]},
                }
            ],
        },
    )
    with pytest.raises(
        KibanaImportError,
        match=r"imported 7 .* refused 1: dashboard/newsstream-dashboard: missing_references \(lens/gone\)",
    ):
        import_saved_objects(url)


def test_import_raises_when_kibana_is_not_reachable():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(KibanaImportError, match="not reachable"):
        import_saved_objects(f"127.0.0.1:{port}", timeout=5)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_import_does_not_follow_a_redirect_to_another_host(kibana, other_host, status):
    # urllib followed a 302 to the other host as a GET without the file, and its answer was reported as success
    server, url = kibana
    elsewhere, elsewhere_url = other_host
    elsewhere.answer = (200, {"success": True, "successCount": 7, "successResults": []})
    server.answer = (status, {"location": f"http://user:secret@{elsewhere_url[7:]}/api/saved_objects/_import?x=1"})
    with pytest.raises(KibanaImportError) as info:
        import_saved_objects(url)
    message = str(info.value)
    assert f"answered HTTP {status}, a redirect to {elsewhere_url}/api/saved_objects/_import: not followed" in message
    assert "secret" not in message and "x=1" not in message
    assert info.value.status == status
    assert elsewhere.requests == [] and len(server.requests) == 1


def test_kibana_import_command_fails_on_a_redirect(kibana, other_host):
    server, url = kibana
    elsewhere, elsewhere_url = other_host
    elsewhere.answer = (200, {"success": True, "successCount": 7, "successResults": []})
    server.answer = (302, {"location": elsewhere_url + "/api/saved_objects/_import"})
    result = CliRunner().invoke(app, ["kibana", "import", "--url", url])
    assert result.exit_code == 1
    assert "imported" not in result.stdout
    assert result.stderr.startswith(f"error: import into {url} failed: {url} answered HTTP 302")
    assert elsewhere.requests == []


def test_import_sends_the_elasticsearch_credentials_and_keeps_them_out_of_errors(kibana):
    server, url = kibana
    settings = Settings(elasticsearch_username="newsstream", elasticsearch_password="pw-kibana-31")
    header = authorization_header(settings)
    assert header == "Basic " + base64.b64encode(b"newsstream:pw-kibana-31").decode()
    server.answer = (200, {"success": True, "successCount": 1})
    assert import_saved_objects(url, authorization=header) == 1
    assert {k.lower(): v for k, v in server.requests[0]["headers"].items()}["authorization"] == header
    # Kibana's 401 as it words it: the message names the user, never the password or the header
    server.answer = (
        401,
        {"statusCode": 401, "error": "Unauthorized", "message": "[security_exception] unable to authenticate"},
    )
    with pytest.raises(KibanaImportError, match=r"HTTP 401 .*Unauthorized: \[security_exception\]") as info:
        import_saved_objects(url, authorization=header)
    assert "pw-kibana-31" not in str(info.value) and header.split()[1] not in str(info.value)
