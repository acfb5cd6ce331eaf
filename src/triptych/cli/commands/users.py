"""``triptych users``: create accounts and manage plans and content mode."""

from __future__ import annotations

import sys

import click

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, handle_errors, json_option, user_option


@click.group("users")
def users() -> None:
    """Manage accounts."""


@users.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Make this account an admin (asks for its "
                                             "password, so it can sign in to the web UI).")
@click.option("--plan", default="free", show_default=True,
              help="A plan of plans.toml or TRIPTYCH_PLANS (`triptych plans` lists them).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@click.option("--password/--no-password", "ask", default=None,
              help="Ask for a password (hidden, typed twice); default: yes for --admin.")
@json_option
@handle_errors
def create(email, admin, plan, password_stdin, ask, as_json) -> None:
    """Create an account (the first account on a fresh install is an admin)."""
    password = _password(password_stdin, admin if ask is None else ask, email)
    password_hash = None
    if password is not None:
        from triptych.web.config import WebConfig
        from triptych.web.passwords import Passwords

        password_hash = Passwords(WebConfig.from_settings(app().settings)).hash(password)
    member = app().accounts.create_user(email, admin=admin, plan=plan,
                                        password_hash=password_hash)
    out = {"id": member.id, "email": member.email, "role": member.role, "plan": member.plan,
           "password": password_hash is not None}
    if as_json:
        emit_json(out)
    else:
        console.print(f"Created {out['email']} ({out['role']}, {out['plan']} plan).",
                      highlight=False)
        if out["role"] == "admin" and password_hash is None:
            console.print(f"It has no password, so it cannot sign in to the web UI yet: "
                          f"`triptych users reset-link {out['email']}` prints a one-time "
                          "link that sets one.", highlight=False)


def _password(from_stdin: bool, ask: bool, email: str) -> str | None:
    """The new account's password: from stdin, or asked for (hidden, confirmed); held to the
    same policy as a sign-up's (length, not a common password, not the address)."""
    from triptych.service.password_policy import check_password_policy

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif ask:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                err=True)
    else:
        return None
    check_password_policy(password, min_length=app().settings.password_min_length, email=email)
    return password


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
    from triptych.service.audit import Actor

    old = app().accounts.by_email(email).plan
    out = app().set_plan(email, plan)
    if old != plan:
        app().admin.record(Actor.cli(), "user.plan", email.strip().lower(), old, plan)
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
