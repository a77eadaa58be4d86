"""Kibana saved objects of newsstream: read them, and import them into a Kibana.

The objects live in ``deploy/kibana/saved-objects.ndjson`` (:data:`DEFAULT_PATH`),
one JSON object a line, in the format of Kibana's saved-objects export:

* a data view (type ``index-pattern``) on the alias ``articles``, time field
  ``published_at``;
* a saved search (type ``search``) with title, publisher, persons, places,
  countries and tags, newest first;
* Lens visualisations (type ``lens``): articles over time, top persons,
  organisations, places, countries and tags;
* a dashboard (type ``dashboard``) of those, plus the saved search.

``newsstream kibana import --url URL`` calls :func:`import_saved_objects`, which
posts the file to Kibana's ``POST /api/saved_objects/_import`` with only the
standard library, with the Elasticsearch credentials of the settings (a
secured Kibana takes the same API key or user and password:
:func:`indexers.elasticsearch.client.authorization_header`). The Docker
Compose stack does the same with curl (``kibana-setup`` in ``docker-compose.yml``).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "deploy" / "kibana" / "saved-objects.ndjson"


class KibanaImportError(RuntimeError):
    """Kibana cannot be reached, or refused (part of) the import.

    ``status`` is the HTTP status (``None`` when Kibana was not reached) and
    ``body`` Kibana's answer as text (``""`` when there was none).
    """

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def load_saved_objects(path: Path | None = None) -> list[dict[str, Any]]:
    """Return the saved objects of the NDJSON file at ``path`` (default :data:`DEFAULT_PATH`).

    Shape of each object: ``{"type": str, "id": str, "attributes": dict,
    "references": [{"type", "id", "name"}], ...}`` as Kibana exports it. Blank
    lines are skipped.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a line is not JSON, not an object, or lacks ``type``,
            ``id`` or ``attributes``; the message names ``file:line``.
    """
    path = Path(path) if path is not None else DEFAULT_PATH
    objects: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not JSON: {exc}") from exc
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{lineno}: not a JSON object")
            missing = [k for k in ("type", "id", "attributes") if k not in obj]
            if missing:
                raise ValueError(f"{path}:{lineno}: saved object without {', '.join(missing)}")
            objects.append(obj)
    return objects


def _multipart(field: str, filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    """Return ``(body, content_type_header)`` of a multipart/form-data request with one file."""
    boundary = f"----newsstream-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + content + tail, f"multipart/form-data; boundary={boundary}"


def _summarise_errors(errors: list[dict[str, Any]], limit: int = 5) -> str:
    parts = []
    for err in errors[:limit]:
        detail = err.get("error", {})
        kind = detail.get("type", "error") if isinstance(detail, dict) else str(detail)
        extra = ""
        if isinstance(detail, dict) and detail.get("references"):
            refs = ", ".join(f"{r.get('type')}/{r.get('id')}" for r in detail["references"])
            extra = f" ({refs})"
        elif isinstance(detail, dict) and detail.get("message"):
            extra = f" ({detail['message']})"
        parts.append(f"{err.get('type')}/{err.get('id')}: {kind}{extra}")
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts)


class _Redirected(urllib.error.URLError):
    def __init__(self, code: int, location: str) -> None:
        super().__init__(f"redirect {code}")
        self.code = code
        self.location = location


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse every redirect: urllib would follow a 302 to another host as a GET
    without the file, and the other host's answer would be taken for Kibana's."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise _Redirected(code, _without_credentials(newurl))


def _without_credentials(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``: no user, password or query in an error message."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an invalid URL)"
    return f"{parts.scheme}://{host}{port}{parts.path}"


_OPENER = urllib.request.build_opener(_RefuseRedirects)


def _opener(context: ssl.SSLContext) -> urllib.request.OpenerDirector:
    """An opener that refuses redirects and trusts ``context`` for ``https://``."""
    return urllib.request.build_opener(_RefuseRedirects, urllib.request.HTTPSHandler(context=context))


def import_saved_objects(
    url: str,
    path: Path | None = None,
    overwrite: bool = True,
    timeout: float = 60.0,
    *,
    authorization: str | None = None,
    context: ssl.SSLContext | None = None,
) -> int:
    """Import the saved objects file into the Kibana at ``url``; return how many were imported.

    ``authorization`` is the ``Authorization`` header to send (``ApiKey ...``
    or ``Basic ...``; it never appears in an error), ``context`` the TLS
    context of an ``https://`` Kibana.

    ``url`` is Kibana's base URL (``http://127.0.0.1:5601``; ``http://`` is
    assumed when no scheme is given). The file at ``path`` (default
    :data:`DEFAULT_PATH`) is checked with :func:`load_saved_objects`, then sent
    as the multipart field ``file`` to ``{url}/api/saved_objects/_import``
    (with ``?overwrite=true`` when ``overwrite``: objects with the same ids are
    replaced, so importing twice is harmless) and header ``kbn-xsrf: true``.

    Kibana answers ``{"success": bool, "successCount": int, "errors": [...]}``;
    the return value is ``successCount``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not valid saved-objects NDJSON.
        KibanaImportError: Kibana is not reachable, redirects (never
            followed), answers with an HTTP error
            (the message carries Kibana's answer), answers something that is
            not the import response, or imported only part of the objects
            (``success: false``; the message lists the objects and errors).
    """
    path = Path(path) if path is not None else DEFAULT_PATH
    load_saved_objects(path)  # fail here, with file:line, rather than in Kibana
    content = path.read_bytes()
    body, content_type = _multipart("file", path.name, content, "application/ndjson")

    base = url.strip().rstrip("/")
    if "://" not in base:
        base = "http://" + base
    endpoint = f"{base}/api/saved_objects/_import" + ("?overwrite=true" if overwrite else "")
    request = urllib.request.Request(
        endpoint,
        data=body,
        method="POST",
        headers={"kbn-xsrf": "true", "Content-Type": content_type, "Accept": "application/json"},
    )
    if authorization:
        request.add_unredirected_header("Authorization", authorization)  # not to another host on a redirect
    try:
        opener = _OPENER if context is None else _opener(context)
        with opener.open(request, timeout=timeout) as resp:
            status = resp.status
            text = resp.read().decode("utf-8", "replace")
    except _Redirected as exc:
        raise KibanaImportError(
            f"{base} answered HTTP {exc.code}, a redirect to {exc.location}: not followed (a POST redirected "
            "is sent again as an empty GET, possibly to another host); give Kibana's own URL with --url",
            exc.code,
        ) from None
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")
        message = text
        try:
            answer = json.loads(text)
            if isinstance(answer, dict) and answer.get("message"):
                message = f"{answer.get('error', exc.reason)}: {answer['message']}"
        except json.JSONDecodeError:
            pass
        raise KibanaImportError(f"Kibana answered HTTP {exc.code} to {endpoint}: {message}", exc.code, text) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise KibanaImportError(f"Kibana is not reachable at {base}: {reason}") from exc

    try:
        answer = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KibanaImportError(f"Kibana's answer to {endpoint} is not JSON: {text[:200]!r}", status, text) from exc
    if not isinstance(answer, dict) or "successCount" not in answer:
        raise KibanaImportError(f"Kibana's answer to {endpoint} is not an import result: {text[:200]!r}", status, text)
    if not answer.get("success", False):
        errors = answer.get("errors") or []
        raise KibanaImportError(
            f"Kibana imported {answer['successCount']} object(s) from {path.name} and refused "
            f"{len(errors)}: {_summarise_errors(errors)}",
            status,
            text,
        )
    return int(answer["successCount"])
