"""``triptych plans`` and ``triptych payments``: the install's plans and packs, and what
people paid for (with any refund or dispute shortfall)."""

from __future__ import annotations

import click

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, handle_errors, json_option


@click.command("plans")
@json_option
@handle_errors
def plans(as_json) -> None:
    """List the plans and credit packs (plans.toml and TRIPTYCH_PLANS)."""
    tp = app()
    book = tp.plans()
    out = {"payments_on": tp.payments.on,
           "plans": [p.model_dump() for p in book.plans.values()],
           "packs": [p.model_dump() for p in book.packs.values()]}
    if as_json:
        emit_json(out)
        return
    for p in book.plans.values():
        size = f"{p.max_width or 'any'}x{p.max_height or 'any'}" + (
            f", {p.max_pixels:,} px" if p.max_pixels else "")
        price = f"{p.price_cents / 100:.2f} {p.currency}/{p.interval}" if p.for_sale else "-"
        console.print(f"{p.id:<10} {p.monthly_credits:>6} credits/month  priority {p.priority}  "
                      f"unrestricted {'yes' if p.unrestricted else 'no':<3}  {size}  {price}",
                      highlight=False)
    for k in book.packs.values():
        console.print(f"pack {k.id:<10} {k.credits:>6} credits  "
                      f"{k.price_cents / 100:.2f} {k.currency}", highlight=False)
    if not tp.payments.on:
        console.print("Payments are off (set TRIPTYCH_STRIPE_SECRET_KEY and "
                      "TRIPTYCH_STRIPE_WEBHOOK_SECRET).", highlight=False)


@click.group("payments")
def payments() -> None:
    """Paid credit packs."""


@payments.command("list")
@click.option("--user", "email", default=None, help="Only this account's payments.")
@click.option("--short", "short_only", is_flag=True,
              help="Only payments whose refund or dispute found the credits already spent.")
@json_option
@handle_errors
def list_payments(email, short_only, as_json) -> None:
    """Paid packs, newest first: granted, taken back, and short (already spent)."""
    tp = app()
    user_id = tp.as_user(email).user_id if email else None
    rows = tp.payments.payments_of(user_id, short_only=short_only)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print("No payments.")
    for r in rows:
        flags = " disputed" if r["disputed"] else ""
        console.print(f"{r['at']}  {r['user'] or '?'}  {r['pack'] or '-'}  granted "
                      f"{r['granted']}  taken back {r['reversed']}  short {r['shortfall']}"
                      f"{flags}  {r['session'] or r['payment_intent']}", highlight=False)


@payments.command("events")
def events() -> None:
    """The Stripe event types the webhook acts on: select these on the endpoint."""
    from triptych.service.payments.webhook import HANDLED_EVENTS

    for name in HANDLED_EVENTS:
        click.echo(name)


COMMANDS = [plans, payments]
