"""``triptych mail``: check the mail settings and see what the outbox holds."""

from __future__ import annotations

import click

from triptych.cli.app import app
from triptych.cli.output import console, emit_json, handle_errors, json_option
from triptych.service.mail_messages import test_message


@click.group("mail")
def mail() -> None:
    """Email: test the SMTP settings, see queued and failed emails."""


@mail.command("test")
@click.argument("address")
@json_option
@handle_errors
def test(address, as_json) -> None:
    """Send one email to ADDRESS now, through TRIPTYCH_SMTP_URL (not through the queue)."""
    tp = app()
    tp.account_email.outbox().send_now(address, test_message(tp.settings.public_url or
                                                             "Triptych"))
    if as_json:
        emit_json({"sent": True, "to": address})
    else:
        console.print(f"Sent a test email to {address}.", highlight=False)


@mail.command("status")
@json_option
@handle_errors
def status(as_json) -> None:
    """Emails waiting to be sent, sent, and given up on (with the latest errors)."""
    out = app().account_email.outbox().status()
    if as_json:
        emit_json(out)
        return
    console.print(f"{out['waiting']} waiting, {out['sent']} sent, {out['failed']} given up.",
                  highlight=False)
    for error in out["recent_errors"]:
        console.print(f"  #{error['id']} {error['kind']} to {error['to_address']} "
                      f"(try {error['attempts']}): {error['last_error']}", highlight=False)


COMMANDS = [mail]
