"""``triptych providers check``: does each configured provider key work?

One free call per provider (list models, read the account, or ask for a task id that does
not exist); nothing is generated and no credits are spent. Providers without a key are
reported as "not configured". Exits 1 when a configured provider fails its check.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click
from rich.table import Table

from triptych.cli.output import console, emit_json, handle_errors, json_option
from triptych.settings import PROVIDERS, Settings

STYLE = {"ok": "green", "unverified": "yellow", "not_configured": "dim",
         "auth_failed": "red", "out_of_credit": "red", "unavailable": "red",
         "unreachable": "red", "error": "red"}
FAILED = ("auth_failed", "out_of_credit", "unavailable", "unreachable", "error")


def _first_target(provider: str) -> str:
    from triptych.catalog.loader import load_catalog

    for card in load_catalog():
        if card.scheme == provider:
            return card.target
    return ""


def check_provider(provider: str, settings: Settings) -> dict[str, Any]:
    base_url = settings.provider_base_url(provider)
    row: dict[str, Any] = {"provider": provider, "base_url": base_url}
    key = settings.provider_key(provider)
    if not key:
        env = f"TRIPTYCH_{provider.upper()}_API_KEY"
        return {**row, "status": "not_configured", "detail": f"set {env} to enable"}
    module = importlib.import_module(f"triptych.engines.providers.{provider}")
    engine = module.factory.engine_for(key, base_url, _first_target(provider),
                                       upstream_allow=settings.upstream_allow)
    try:
        result = engine.check()
    finally:
        engine.close()
    return {**row, "status": result.status, "detail": result.detail}


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
    settings = Settings()
    rows = [check_provider(p, settings) for p in (only or PROVIDERS)]
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
