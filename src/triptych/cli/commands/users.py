"""``triptych users``: create accounts and manage plans and content mode."""

from __future__ import annotations

import click

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, handle_errors, json_option, user_option


@click.group("users")
def users() -> None:
    """Manage accounts."""


@users.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Make this account an admin.")
@click.option("--plan", type=click.Choice(["free", "pro"]), default="free", show_default=True)
@json_option
@handle_errors
def create(email, admin, plan, as_json) -> None:
    """Create an account (the first account on a fresh install is an admin)."""
    member = app().accounts.create_user(email, admin=admin, plan=plan)
    out = {"id": member.id, "email": member.email, "role": member.role, "plan": member.plan}
    if as_json:
        emit_json(out)
    else:
        console.print(f"Created {out['email']} ({out['role']}, {out['plan']} plan).",
                      highlight=False)


@users.command("reset-link")
@click.argument("email")
@json_option
@handle_errors
def reset_link(email, as_json) -> None:
    """Print a one-time link that sets this account's password (how an admin gives a
    password to an account that has none, such as the first admin)."""
    tp = app()
    url = tp.account_email.reset_link(email)
    minutes = tp.settings.reset_link_minutes
    if as_json:
        emit_json({"email": email, "url": url, "expires_in_minutes": minutes})
        return
    console.print(url, highlight=False, soft_wrap=True)
    hint = "" if tp.settings.public_url else (
        " Put this server's address in front of it (set TRIPTYCH_PUBLIC_URL to have it "
        "printed whole).")
    console.print(f"Open it within {minutes} minutes; it works once.{hint}", highlight=False)


@users.command("plan")
@click.argument("email")
@click.argument("plan")
@json_option
@handle_errors
def plan(email, plan, as_json) -> None:
    """Move EMAIL to PLAN (a plan of plans.toml or TRIPTYCH_PLANS). An upgrade tops up this
    month's allowance; a downgrade keeps what is left of it until month end."""
    out = app().set_plan(email, plan)
    if as_json:
        emit_json(out)
    else:
        name = app().plan_of(plan).name
        console.print(f"{email} is on the {name} plan: {out['available']} credits available "
                      f"({out['monthly_allowance']} a month).", highlight=False)


@users.command("unrestricted")
@click.argument("state", type=click.Choice(["on", "off"]))
@user_option
@json_option
@handle_errors
def unrestricted(state, user_email, as_json) -> None:
    """Opt in to (or out of) unrestricted mode; pro accounts only."""
    app(user_email).set_unrestricted(state == "on")
    if as_json:
        emit_json({"unrestricted_opt_in": state == "on"})
    else:
        console.print(f"Unrestricted mode {'enabled' if state == 'on' else 'disabled'}.")


COMMANDS = [users]
