"""The ``newsstream`` command line (typer): thin, it parses arguments and calls the modules below it.

Commands: ``services up|down|status`` and ``demo`` (:mod:`.services`),
``publish``, ``worker``, ``parse``, ``enrich`` (:mod:`.pipeline`),
``search`` (:mod:`.search`), ``audit`` (:mod:`.audit`), ``status`` (:mod:`.status`),
``dlq show|replay`` (:mod:`.dlq`),
``agents list`` and ``kibana import`` (:mod:`.plugins`). Errors are printed
in one line naming the input (file, or file:line) and give exit code 1; the
other inputs are still handled.

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

import typer

from streams.cli import audit, common, dlq, pipeline, plugins, search, services, status
from streams.settings import ConfigurationError

# never the locals of a failing frame: they may hold a password
app = typer.Typer(
    help="newsstream: Kafka -> parse -> enrich -> Elasticsearch, for news.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(services.app, name="services")
app.add_typer(dlq.app, name="dlq")
app.add_typer(plugins.agents_app, name="agents")
app.add_typer(plugins.kibana_app, name="kibana")
app.command()(pipeline.publish)
app.command()(pipeline.worker)
app.command()(pipeline.parse)
app.command()(pipeline.enrich)
app.command()(search.search)
app.command()(audit.audit)
app.command()(status.status)
app.command()(services.demo)


def main() -> None:
    """Entry point of the ``newsstream`` console script."""
    logging.basicConfig(level=os.environ.get("NEWSSTREAM_LOGLEVEL", "WARNING"))
    # the clients' own connection chatter: our commands say it in one line
    for name in ("kafka", "elastic_transport", "urllib3", "aiokafka"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        app()
    except ConfigurationError as exc:  # raised by get_settings() in any command
        common.err.print(f"error: settings: {exc}", highlight=False, markup=False)
        raise SystemExit(1) from None
