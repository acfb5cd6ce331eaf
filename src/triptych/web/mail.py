"""The server's mail sender: checks the mail settings once at start-up (a mistake is an
error then, not at the first sign-up), runs the outbox's sender thread, and turns each
committed payment into a receipt email (the payments' receipt hook)."""

from __future__ import annotations

from triptych.client import Triptych
from triptych.errors import TriptychError
from triptych.service.mail_transport import parse_smtp_url
from triptych.service.outbox import Mailer
from triptych.service.payments import receipts
from triptych.settings import Settings


def check_mail_settings(settings: Settings) -> None:
    if settings.smtp_url is None:
        if settings.require_verified_email:
            raise TriptychError("TRIPTYCH_REQUIRE_VERIFIED_EMAIL needs TRIPTYCH_SMTP_URL: "
                                "verification links go by email.")
        return
    parse_smtp_url(settings.smtp_url.get_secret_value())
    if not settings.public_url:
        # Links built from the request's Host header would let anyone have us mail a reset
        # link that points at their own site.
        raise TriptychError("TRIPTYCH_SMTP_URL needs TRIPTYCH_PUBLIC_URL (e.g. "
                            "https://images.example.com): emailed links point there.")
    if not settings.public_url.startswith(("http://", "https://")):
        raise TriptychError("TRIPTYCH_PUBLIC_URL must start with http:// or https://.")


class MailSender:
    """What a server runs for mail between its start and its stop."""

    def __init__(self, tp: Triptych) -> None:
        self.mailer = Mailer(tp.account_email.outbox())
        self.hook = tp.account_email.receipt

    def start(self) -> None:
        self.mailer.start()
        receipts.on_receipt(self.hook)

    def stop(self) -> None:
        receipts.remove_hook(self.hook)
        self.mailer.stop()


def mailer_for(tp: Triptych) -> MailSender | None:
    check_mail_settings(tp.settings)
    if tp.settings.smtp_url is None:
        return None
    return MailSender(tp)
