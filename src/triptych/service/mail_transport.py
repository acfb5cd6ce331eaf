"""Delivering one email over SMTP (the standard library's ``smtplib``).

``TRIPTYCH_SMTP_URL`` says where and how:

- ``smtp://host[:port]`` — port 25 by default; ``?starttls=required`` upgrades to TLS before
  anything else is sent (and refuses a server that cannot), ``?starttls=auto`` (the default)
  upgrades when the server offers it, ``?starttls=off`` never does (a local relay);
- ``smtps://host[:port]`` — TLS from the first byte, port 465 by default;
- ``user:password@`` before the host logs in (percent-encode ``@``, ``:`` and ``/`` in them);
- ``?timeout=SECONDS`` bounds each network wait (default 10).

Certificates are checked against the system's trust store.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from triptych.errors import TriptychError

STARTTLS = ("auto", "required", "off")


class MailError(TriptychError):
    """Mail could not be handed to the server (the outbox retries later)."""

    code = "mail_failed"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    starttls: str  # auto | required | off
    username: str | None
    password: str | None
    timeout: float

    def describe(self) -> str:
        """For logs and errors: never the password."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        who = f"{self.username}@" if self.username else ""
        return f"{scheme}://{who}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpConfig:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise TriptychError("TRIPTYCH_SMTP_URL must start with smtp:// or smtps://.")
    if not parts.hostname:
        raise TriptychError("TRIPTYCH_SMTP_URL names no host, e.g. smtp://mail.example.com:587.")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    starttls = query.get("starttls", "auto").lower()
    if starttls not in STARTTLS:
        raise TriptychError(f"TRIPTYCH_SMTP_URL: starttls is one of {', '.join(STARTTLS)}.")
    try:
        timeout = float(query.get("timeout", "10"))
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError as exc:
        raise TriptychError(f"TRIPTYCH_SMTP_URL: {exc}.") from None
    return SmtpConfig(host=parts.hostname, port=port, implicit_tls=parts.scheme == "smtps",
                      starttls="off" if parts.scheme == "smtps" else starttls,
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None,
                      timeout=timeout)


class SmtpTransport:
    def __init__(self, config: SmtpConfig, tls: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.tls = tls or ssl.create_default_context()

    def send(self, message: EmailMessage) -> None:
        """Hand one message to the server; ``MailError`` says why it could not."""
        c = self.config
        try:
            if c.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout,
                                                      context=self.tls)
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with smtp:
                smtp.ehlo()
                if c.starttls != "off":
                    if smtp.has_extn("starttls"):
                        smtp.starttls(context=self.tls)
                        smtp.ehlo()
                    elif c.starttls == "required":
                        raise MailError(f"{c.describe()} does not offer STARTTLS, and the "
                                        "URL says starttls=required.")
                if c.username:
                    smtp.login(c.username, c.password or "")
                smtp.send_message(message)
        except MailError:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"Could not send mail through {c.describe()}: "
                            f"{type(exc).__name__}: {exc}") from None
