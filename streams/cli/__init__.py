"""The ``newsstream`` command line (typer): thin, it parses arguments and calls the modules below it.

Commands: ``services up|down|status`` and ``demo`` (:mod:`.services`),
``publish``, ``worker``, ``parse``, ``enrich`` (:mod:`.pipeline`),
``search`` (:mod:`.search`), ``audit`` (:mod:`.audit`), ``status`` (:mod:`.status`),
``dlq show|replay|discard`` (:mod:`.dlq`),
``agents list`` and ``kibana import`` (:mod:`.plugins`). Errors are printed
in one line naming the input (file, or file:line) or the setting
(``NEWSSTREAM_*``) and give exit code 1; the other inputs are still handled.

Start-up time: every command module is imported for ``newsstream --help``
and for every command, so the command modules import the project's heavy
modules inside the commands that use them (ruff's PLC0415 is off for this
package, see pyproject.toml). Measured on one import each: spaCy and the
enrichment rules 1.4 s, elasticsearch 0.8 s, kafka-python 0.3 s, against
0.7-0.8 s for ``newsstream --help`` itself.
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import PackageNotFoundError, version

import typer

from streams.cli import audit, dlq, pipeline, plugins, search, services, status
from streams.cli.common import err, readable_help, typer_app
from streams.settings import ConfigurationError

readable_help()

app = typer_app(
    "newsstream: Kafka -> parse -> enrich -> Elasticsearch, for news.\n\n"
    "Every setting is an environment variable NEWSSTREAM_<NAME> (NEWSSTREAM_KAFKA_BOOTSTRAP, "
    "NEWSSTREAM_ELASTICSEARCH_URL, ...); each command's --help names those it reads, the README lists them all."
)
app.add_typer(services.app, name="services")
app.add_typer(dlq.app, name="dlq")
app.add_typer(plugins.agents_app, name="agents")
app.add_typer(plugins.kibana_app, name="kibana")
app.command(epilog=pipeline.PUBLISH_SETTINGS)(pipeline.publish)
app.command(epilog=pipeline.WORKER_SETTINGS)(pipeline.worker)
app.command(epilog=pipeline.PARSE_SETTINGS)(pipeline.parse)
app.command(epilog=pipeline.ENRICH_SETTINGS)(pipeline.enrich)
app.command(epilog=search.SETTINGS)(search.search)
app.command(epilog=audit.SETTINGS)(audit.audit)
app.command(epilog=status.SETTINGS)(status.status)
app.command(epilog=services.DEMO_SETTINGS)(services.demo)


def package_version() -> str:
    """The installed newsstream's version (``0+unknown`` when run from a tree that is not installed)."""
    try:
        return version("newsstream")
    except PackageNotFoundError:
        return "0+unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"newsstream {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """newsstream: Kafka -> parse -> enrich -> Elasticsearch, for news."""


def main() -> None:
    """Entry point of the ``newsstream`` console script."""
    logging.basicConfig(level=os.environ.get("NEWSSTREAM_LOGLEVEL", "WARNING"))
    # the clients' own connection chatter: our commands say it in one line
    for name in ("kafka", "elastic_transport", "urllib3", "aiokafka"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        app()
    except ConfigurationError as exc:  # a command that read settings without streams.cli.common.load_settings()
        err.print(f"error: settings: {exc}", highlight=False, markup=False)
        raise SystemExit(1) from None
