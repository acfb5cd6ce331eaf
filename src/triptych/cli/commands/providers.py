"""``triptych providers check``: does each configured provider key work?

One free call per provider (list models, read the account, or ask for a task id that does
not exist); nothing is generated and no credits are spent. Providers without a key are
reported as "not configured". Exits 1 when a configured provider fails its check.
"""

from __future__ import annotations

import sys

import click
from rich.table import Table

from triptych.cli.output import console, emit_json, handle_errors, json_option
from triptych.service.provider_health import FAILED, check_providers
from triptych.settings import PROVIDERS, Settings

STYLE = {"ok": "green", "unverified": "yellow", "not_configured": "dim",
         "auth_failed": "red", "out_of_credit": "red", "unavailable": "red",
         "unreachable": "red", "error": "red"}


@click.group()
def providers() -> None:
    """Hosted image providers: keys and reachability."""


@providers.command("check")
@click.option("--provider", "only", type=click.Choice(PROVIDERS), multiple=True,
              help="Check only this provider (repeatable).")
@json_option
@handle_errors
def check(only: tuple[str, ...], as_json: bool) -> None:
    """Check each configured provider's key with one free call (no credits spent)."""
    from triptych.catalog.loader import load_catalog

    settings = Settings()
    rows = check_providers(settings, load_catalog(extra=settings.catalog_files), only)
    failed = [r for r in rows if r["status"] in FAILED]
    if as_json:
        emit_json({"providers": rows, "ok": not failed})
    else:
        table = Table(title="Hosted providers")
        for column in ("provider", "status", "detail"):
            table.add_column(column, overflow="fold")
        for r in rows:
            style = STYLE.get(r["status"], "")
            status = r["status"].replace("_", " ")
            table.add_row(r["provider"], f"[{style}]{status}[/]", r["detail"])
        console.print(table)
    if failed:
        sys.exit(1)


COMMANDS = [providers]
