"""``triptych models``: the catalog as a table."""

from __future__ import annotations

import click
from rich.table import Table

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, handle_errors, json_option


@click.group("models", invoke_without_command=True)
@click.option("--tier", type=click.Choice(["instant", "fast", "medium", "premium"]))
@click.option("--capability", help="e.g. text-rendering, photorealism, design, vector.")
@click.option("--available/--unavailable", "available", default=None,
              help="Only models that can (or cannot) run here.")
@json_option
@click.pass_context
@handle_errors
def models(ctx: click.Context, tier: str | None, capability: str | None,
           available: bool | None, as_json: bool) -> None:
    """List every model: provider, family, speed tier, price and availability."""
    if ctx.invoked_subcommand is not None:
        return
    rows = app().models(tier=tier, capability=capability, available=available)
    if as_json:
        emit_json(rows)
        return
    table = Table(title="Triptych models", show_lines=False)
    for column in ("id", "provider", "family", "tier", "credits", "best for", "available"):
        table.add_column(column, no_wrap=column in ("id", "credits", "tier"))
    for m in rows:
        status = "[green]yes[/]" if m["available"] else "[red]no[/]"
        table.add_row(m["id"], m["provider"], m["family"], m["tier"], str(m["credits"]),
                      ", ".join(m["best_for"]), status)
    console.print(table)
    missing = [m for m in rows if not m["available"]]
    if missing:
        console.print("Unavailable:", highlight=False)
        for m in missing:
            console.print(f"  {m['id']}: {m['unavailable_reason']}", highlight=False)


COMMANDS = [models]
