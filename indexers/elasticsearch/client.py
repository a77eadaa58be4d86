"""The one place an Elasticsearch client is built from settings.

Every client newsstream opens, sync or async, in the worker, the CLI, the
local services' health check, the benchmarks and the tests, comes from
:func:`sync_client` or :func:`async_client`, so the way to reach the cluster
(URL today; API key, basic auth, TLS or a cloud id tomorrow) is decided here
and only here: :func:`connection_options`.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch

from streams.settings import Settings


def connection_options(settings: Settings) -> dict[str, Any]:
    """Return the keyword arguments that say where the cluster is and how to log in.

    Shape: ``{"hosts": [url, ...]}`` (``settings.elasticsearch_url``, one URL
    or several nodes' comma-separated: the client sends each request to a live
    one, so losing a node loses no client); security options (``api_key``,
    ``basic_auth``, ``ca_certs``, ``cloud_id``) belong here.
    """
    return {"hosts": urls(settings)}


def urls(settings: Settings) -> list[str]:
    """Return the node URLs of ``settings.elasticsearch_url`` (comma-separated) as a list."""
    return [u.strip() for u in settings.elasticsearch_url.split(",") if u.strip()]


def sync_client(settings: Settings, *, request_timeout: float = 30.0, **options: Any) -> Elasticsearch:
    """Return a sync client of the cluster in ``settings``.

    ``request_timeout`` is in seconds; ``options`` are further
    ``Elasticsearch(...)`` keyword arguments (``max_retries`` ...).
    """
    return Elasticsearch(**connection_options(settings), request_timeout=request_timeout, **options)


def async_client(settings: Settings, *, request_timeout: float = 60.0, **options: Any) -> AsyncElasticsearch:
    """Return an async client of the cluster in ``settings`` (see :func:`sync_client`)."""
    return AsyncElasticsearch(**connection_options(settings), request_timeout=request_timeout, **options)


def healthy(settings: Settings, timeout: float = 5.0) -> bool:
    """Return True when the cluster answers and is yellow or green within ``timeout`` seconds."""
    client = sync_client(settings, request_timeout=timeout + 2, max_retries=0)
    try:
        client.cluster.health(wait_for_status="yellow", timeout=f"{max(1, int(timeout))}s")
        return True
    except Exception:  # unreachable, refused, or still red: not healthy yet
        return False
    finally:
        client.close()
