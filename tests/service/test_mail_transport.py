"""SMTP URLs, and sending through a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from tests.support.ports import refused_port
from tests.support.smtp_server import smtp_server

from triptych.errors import TriptychError
from triptych.service.mail_transport import MailError, SmtpTransport, parse_smtp_url

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH:UserWarning")


def test_urls_say_where_and_how():
    plain = parse_smtp_url("smtp://relay.internal")
    assert (plain.host, plain.port, plain.implicit_tls, plain.starttls) == (
        "relay.internal", 25, False, "auto")
    tls = parse_smtp_url("smtps://me%40example.com:p%3Ass%2Fw@mail.example.com")
    assert (tls.port, tls.implicit_tls, tls.username, tls.password) == (
        465, True, "me@example.com", "p:ss/w")
    sub = parse_smtp_url("smtp://u:p@mail.example.com:587?starttls=required&timeout=3")
    assert (sub.port, sub.starttls, sub.timeout) == (587, "required", 3.0)
    assert "p:ss" not in tls.describe() and "me@example.com@" in tls.describe()
    for bad in ("http://mail.example.com", "smtp://", "smtp://h?starttls=maybe"):
        with pytest.raises(TriptychError):
            parse_smtp_url(bad)


def _message(to: str = "ada@example.com") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Triptych <triptych@example.com>"
    message["To"] = to
    message["Subject"] = "Hello"
    message.set_content("plain words")
    message.add_alternative("<p>html words</p>", subtype="html")
    return message


def test_sends_with_the_credentials_in_the_url():
    with smtp_server(username="mailer@example.com", password="s3cret:pass") as server:
        port = server.controller.port
        url = f"smtp://mailer%40example.com:s3cret%3Apass@127.0.0.1:{port}?starttls=off"
        SmtpTransport(parse_smtp_url(url)).send(_message())
        [got] = server.inbox.wait(1)
        assert got["Subject"] == "Hello" and server.inbox.logins == ["mailer@example.com"]
        wrong = f"smtp://mailer%40example.com:nope@127.0.0.1:{port}?starttls=off"
        with pytest.raises(MailError, match="SMTPAuthenticationError"):
            SmtpTransport(parse_smtp_url(wrong)).send(_message())


def test_required_starttls_refuses_a_server_without_it_and_errors_name_no_password():
    with smtp_server() as server:
        url = f"smtp://u:hunter22@127.0.0.1:{server.controller.port}?starttls=required"
        with pytest.raises(MailError, match="does not offer STARTTLS") as caught:
            SmtpTransport(parse_smtp_url(url)).send(_message())
        assert "hunter22" not in caught.value.message
        assert server.inbox.messages == []
    with refused_port() as port, pytest.raises(MailError, match="Could not send"):
        SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}?timeout=2")).send(_message())
