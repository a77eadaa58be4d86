"""The TLS-terminating proxy that makes the local Elasticsearch a secured one (``--secure``).

The Maven distribution of Elasticsearch has no security module, so nginx
(Debian's package; ``./dev`` installs it as root) listens with TLS on each
node's HTTPS port (see :mod:`streams.local.layout`) and passes a request to
that node only when it carries the credentials a secured Elasticsearch takes:

* ``Authorization: Basic base64(user:password)``, or
* ``Authorization: ApiKey base64(id:key)`` (what elasticsearch-py sends for
  ``api_key=(id, key)`` or the encoded key Kibana shows).

The scheme is matched without regard to case and the credentials exactly, as
Elasticsearch does. Anything else gets what Elasticsearch answers: status 401,
the ``WWW-Authenticate`` challenges and ``X-elastic-product`` header, and a
``security_exception`` JSON body ("missing authentication credentials for REST
request [URI]" without credentials, "unable to authenticate with provided
credentials ..." with wrong ones). A client certificate signed by the local CA
is accepted but not required. nginx's config holds the credentials in their
encoded form and is written with mode 0600.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

from streams.local import layout as lay
from streams.local import processes
from streams.local.exceptions import ServiceError
from streams.local.layout import Layout
from streams.local.tls import SecureCredentials
from streams.settings import Settings

NAME = "proxy"
_CHALLENGES = ['Basic realm="security", charset="UTF-8"', 'Bearer realm="security"', "ApiKey"]


def find_nginx() -> str:
    """The nginx binary. Raises :class:`ServiceError` saying how to install it."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise ServiceError(
            "nginx is needed for `services up --secure` (the TLS proxy in front of Elasticsearch) and is not "
            "installed: run ./dev as root, which installs it, or apt-get install nginx (Debian/Ubuntu)"
        )
    return found


def _error_body(reason: str) -> str:
    """Elasticsearch's 401 body for ``reason`` (which may hold nginx variables), as one JSON line."""
    header = '{"WWW-Authenticate":[' + ",".join('"' + c.replace('"', '\\"') + '"' for c in _CHALLENGES) + "]}"
    cause = f'{{"type":"security_exception","reason":"{reason}","header":{header}}}'
    return f'{{"error":{{"root_cause":[{cause}],{cause[1:-1]}}},"status":401}}'


def _quote(text: str) -> str:
    """``text`` as an nginx single-quoted string (nginx unescapes backslash and quote)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _regex_literal(b64: str) -> str:
    # base64's only regex metacharacter is '+'
    return b64.replace("+", "[+]")


def config_text(settings: Settings, layout: Layout, creds: SecureCredentials, tls: Path, work: Path) -> str:
    """nginx's whole configuration for ``layout`` (one TLS server per Elasticsearch node)."""
    basic = b64encode(f"{creds.elasticsearch_username}:{creds.elasticsearch_password}".encode()).decode()
    headers = "".join(f"            add_header WWW-Authenticate {_quote(c)} always;\n" for c in _CHALLENGES)
    headers += "            add_header X-elastic-product Elasticsearch always;\n"
    missing = _error_body("missing authentication credentials for REST request [$request_uri]")
    wrong = _error_body(
        "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
    )
    servers = []
    for node in lay.elasticsearch_nodes(settings, layout):
        servers.append(
            f"""
    upstream es_{node.index} {{
        server {node.host}:{node.ports["http"]};
        keepalive 16;
    }}
    server {{
        listen {node.host}:{node.ports["https"]} ssl;
        ssl_certificate {tls / "server.pem"};
        ssl_certificate_key {tls / "server-key.pem"};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_client_certificate {tls / "ca.pem"};
        ssl_verify_client optional;
        default_type application/json;
        location / {{
            if ($newsstream_auth = missing) {{
{headers}                return 401 {_quote(missing)};
            }}
            if ($newsstream_auth = wrong) {{
{headers}                return 401 {_quote(wrong)};
            }}
            proxy_pass http://es_{node.index};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "";
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 300s;
        }}
    }}"""
        )
    temp = "\n".join(
        f"    {kind}_temp_path {work / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""# written by newsstream services up --secure; holds credentials: mode 0600
daemon off;
master_process on;
worker_processes 1;
pid {work / "nginx.pid"};
error_log stderr warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    server_tokens off;
    client_max_body_size 100m;
{temp}
    map $http_authorization $newsstream_auth {{
        default missing;
        "~^(?i:basic)\\s+{_regex_literal(basic)}\\s*$" ok;
        "~^(?i:apikey)\\s+{_regex_literal(creds.api_key_encoded)}\\s*$" ok;
        "~." wrong;
    }}
{"".join(servers)}
}}
"""


def start(settings: Settings, layout: Layout, creds: SecureCredentials, tls: Path) -> int:
    """Write nginx's config and start it in the foreground as process ``proxy``. Returns its pid.

    Raises:
        ServiceError: nginx is missing or rejects the configuration (with its message).
    """
    nginx = find_nginx()
    work = settings.services_dir / "proxy"
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / kind).mkdir(parents=True, exist_ok=True)
        os.chmod(work / kind, 0o1777)  # nginx's workers may run as nobody
    conf = work / "nginx.conf"
    tmp = conf.with_name("nginx.conf.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(config_text(settings, layout, creds, tls, work))
    os.replace(tmp, conf)
    (settings.services_dir / "logs").mkdir(parents=True, exist_ok=True)
    # errors (a port taken, for one) go to stderr, which is the process's log
    base = [nginx, "-p", str(work), "-e", "stderr", "-c", str(conf)]
    check = subprocess.run([*base, "-t", "-q"], check=False, capture_output=True, text=True)
    if check.returncode != 0:
        raise ServiceError(f"nginx rejects {conf}: {check.stderr.strip()[-1500:]}")
    return processes.spawn(settings, NAME, base, dict(os.environ), work)


def healthy(url: str, creds: SecureCredentials, timeout: float = 5.0) -> bool:
    """True when ``url`` (an HTTPS endpoint) answers ``_cluster/health`` to Basic credentials over verified TLS."""
    ctx = ssl.create_default_context(cafile=str(creds.ca_file))
    auth = b64encode(f"{creds.elasticsearch_username}:{creds.elasticsearch_password}".encode()).decode()
    req = urllib.request.Request(f"{url.rstrip('/')}/_cluster/health", headers={"Authorization": f"Basic {auth}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
