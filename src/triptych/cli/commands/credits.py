"""``triptych credits``: balance, renewal and statement; ``grant`` and ``plan`` for operators."""

from __future__ import annotations

import click
from rich.table import Table

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, handle_errors, json_option, user_option


@click.group("credits", invoke_without_command=True)
@click.option("--limit", type=int, default=30, show_default=True, help="Statement lines.")
@user_option
@json_option
@click.pass_context
@handle_errors
def credits(ctx: click.Context, limit, user_email, as_json) -> None:
    """Show your balance, when the allowance renews, and every movement."""
    if ctx.invoked_subcommand is not None:
        return
    out = app(user_email).credits(limit=limit)
    if as_json:
        emit_json(out)
        return
    held = f", {out['held']} held by running jobs" if out["held"] else ""
    console.print(f"[bold]{out['available']} credits[/] available for {out['user']} "
                  f"({out['plan']} plan): {out['allowance']} of this month's "
                  f"{out['monthly_allowance']} free + {out['purchased']} purchased{held}.",
                  highlight=False)
    console.print(f"Your monthly allowance renews on {out['renews_on']} (unused free credits "
                  f"expire then).", highlight=False)
    table = Table(title="Statement (newest first)")
    for column in ("when", "what", "credits", "job", "memo"):
        table.add_column(column)
    for line in out["statement"]:
        delta = line["delta"]
        table.add_row(line["at"].replace("T", " "), line["kind"],
                      f"{delta:+d}" if delta else f"({line['amount']})",
                      (line["job_id"] or "")[:12], line["memo"])
    console.print(table)


@credits.command("grant")
@click.argument("user")
@click.argument("amount", type=int)
@click.option("--reason", required=True, help="Shown on the user's statement.")
@click.option("--key", help="Idempotency key: a repeated grant with the same key is a no-op.")
@json_option
@handle_errors
def grant(user, amount, reason, key, as_json) -> None:
    """Grant or sell AMOUNT credits to USER (an email; the account is created if new)."""
    out = app().grant(user, amount, reason=reason, key=key)
    if as_json:
        emit_json(out)
    else:
        console.print(f"Granted {amount} credits to {user}: {out['available']} available now.",
                      highlight=False)


@credits.command("plan")
@click.argument("user")
@click.argument("plan")
@json_option
@handle_errors
def plan(user, plan, as_json) -> None:
    """Move USER to PLAN (pro: larger monthly allowance, unrestricted mode after opt-in)."""
    out = app().set_plan(user, plan)
    if as_json:
        emit_json(out)
    else:
        console.print(f"{user} is on the {plan} plan: {out['available']} credits available.",
                      highlight=False)


@click.command("ledger")
@click.argument("action", type=click.Choice(["verify"]))
@json_option
@handle_errors
def ledger(action, as_json) -> None:
    """`triptych ledger verify`: check every ledger invariant (exit 1 if any fails)."""
    problems = app().verify_ledger()
    if as_json:
        emit_json({"ok": not problems, "problems": problems})
    elif problems:
        for problem in problems:
            console.print(f"[red]✗[/] {problem}", highlight=False)
    else:
        console.print("[green]✓[/] ledger verified: books balance, no negative balances, "
                      "no orphan holds, every job settled once, every payment granted once "
                      "and reversed within its grant.")
    if problems:
        raise SystemExit(1)


COMMANDS = [credits, ledger]
