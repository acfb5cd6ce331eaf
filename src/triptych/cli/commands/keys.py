"""``triptych keys``: API keys for programs (create prints the secret once)."""

from __future__ import annotations

import click

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, err_console, handle_errors, json_option


@click.group("keys")
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--user", "user_email", required=True, metavar="EMAIL",
              help="The account the key acts as.")
@click.option("--name", default="", help="A label to tell keys apart.")
@click.option("--monthly-cap", type=int, default=None, metavar="CREDITS",
              help="The most credits the key may spend per calendar month (UTC).")
@json_option
@handle_errors
def create(user_email: str, name: str, monthly_cap: int | None, as_json: bool) -> None:
    """Make a key and print it (shown only this once)."""
    accounts = app().accounts
    member = accounts.by_email(user_email)
    key, secret = accounts.create_key(member.id, name, monthly_cap=monthly_cap)
    out = {**key, "key": secret, "user": member.email}
    if as_json:
        emit_json(out)
    else:
        click.echo(secret)  # alone on stdout, so `KEY=$(triptych keys create …)` works
        err_console.print(f"[dim]Key {out['id']} ({out['prefix']}) for {out['user']}. Store it "
                          f"now: it is not shown again.[/]", highlight=False)


@keys.command("list")
@click.option("--user", "user_email", required=True, metavar="EMAIL")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@json_option
@handle_errors
def list_(user_email: str, include_revoked: bool, as_json: bool) -> None:
    """List an account's keys (prefixes only)."""
    accounts = app().accounts
    rows = accounts.keys(accounts.by_email(user_email).id, include_revoked=include_revoked)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print("No keys.")
    for k in rows:
        state = f"revoked {k['revoked_at']}" if k["revoked_at"] else (
            f"last used {k['last_used_at'] or 'never'}")
        console.print(f"{k['id']}  {k['prefix']}_…  {k['name'] or '-'}  created "
                      f"{k['created_at']}  {state}", highlight=False)


@keys.command("revoke")
@click.argument("key_id")
@click.option("--user", "user_email", required=True, metavar="EMAIL")
@json_option
@handle_errors
def revoke(key_id: str, user_email: str, as_json: bool) -> None:
    """Revoke a key by id; programs using it get 401 at once."""
    accounts = app().accounts
    out = accounts.revoke_key(accounts.by_email(user_email).id, key_id)
    if as_json:
        emit_json(out)
    else:
        console.print(f"Revoked {out['prefix']}_… ({out['id']}).", highlight=False)


COMMANDS = [keys]
