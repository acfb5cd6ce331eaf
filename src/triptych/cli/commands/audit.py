"""``triptych audit``: the admin audit log, newest first (who, when, what, old -> new)."""

from __future__ import annotations

import click
from rich.table import Table

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, handle_errors, json_option
from triptych.service.audit import ACTIONS


@click.command("audit")
@click.option("--action", type=click.Choice(sorted(ACTIONS)), default=None,
              help="Only this kind of action.")
@click.option("--target", default=None, metavar="ID_OR_EMAIL",
              help="Only actions on this model id or account email.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
@handle_errors
def audit(action: str | None, target: str | None, limit: int, as_json: bool) -> None:
    """Show the admin audit log: price and availability changes, grants, disabled
    accounts, ended sign-ins and revoked keys."""
    entries, total = app().admin.audit(limit=limit, action=action, target=target)
    if as_json:
        emit_json({"items": entries, "total": total})
        return
    if not entries:
        console.print("Nothing recorded yet.")
        return
    table = Table(title=f"Audit log ({total} in all, newest first)")
    for column in ("when (UTC)", "who", "what", "on", "before -> after", "note"):
        table.add_column(column, overflow="fold")
    for e in entries:
        change = "" if e["old"] is None and e["new"] is None else \
            f"{'—' if e['old'] is None else e['old']} -> {'—' if e['new'] is None else e['new']}"
        table.add_row(e["at"].replace("T", " "), e["actor"], e["action_words"], e["target"],
                      change, e["note"])
    console.print(table)


COMMANDS = [audit]
