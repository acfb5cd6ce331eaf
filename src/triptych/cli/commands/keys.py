"""``triptych keys``: API keys for programs (create prints the secret once)."""

from __future__ import annotations

import click

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, err_console, handle_errors, json_option
from triptych.service.users import get_user


@click.group("keys")
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--user", "user_email", required=True, metavar="EMAIL",
              help="The account the key acts as.")
@click.option("--name", default="", help="A label to tell keys apart.")
@json_option
@handle_errors
def create(user_email: str, name: str, as_json: bool) -> None:
    """Make a key and print it (shown only this once)."""
    from triptych.web import keys as keys_mod

    tp = app()
    with tp.ctx.sessions.begin() as s:
        user = get_user(s, user_email)
        row, secret = keys_mod.create_key(s, user, name, tp.ctx.clock())
        out = {**keys_mod.key_public(row), "key": secret, "user": user.email}
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
    from triptych.web import keys as keys_mod

    tp = app()
    with tp.ctx.sessions.begin() as s:
        user = get_user(s, user_email)
        rows = [keys_mod.key_public(k)
                for k in keys_mod.list_keys(s, user.id, include_revoked=include_revoked)]
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
    from triptych.web import keys as keys_mod

    tp = app()
    with tp.ctx.sessions.begin() as s:
        user = get_user(s, user_email)
        row = keys_mod.revoke_key(s, user.id, key_id, tp.ctx.clock())
        out = keys_mod.key_public(row)
    if as_json:
        emit_json(out)
    else:
        console.print(f"Revoked {out['prefix']}_… ({out['id']}).", highlight=False)


COMMANDS = [keys]
