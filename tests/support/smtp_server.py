"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, and a server that
accepts connections but never answers (a stalled mail server)."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.ports import free_port

LINK = re.compile(r"https?://[^\s\"<>]+")


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.cond:
            self.messages.append(message)  # type: ignore[arg-type]
            self.cond.notify_all()
        return "250 OK"

    def wait(self, count: int = 1, timeout: float = 15.0) -> list[EmailMessage]:
        """The first ``count`` messages, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.messages)} of {count} emails arrived")
                self.cond.wait(left)
            return list(self.messages[:count])

    def to(self, address: str) -> list[EmailMessage]:
        with self.cond:
            return [m for m in self.messages if m["To"] == address]


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def link_in(message: EmailMessage) -> str:
    """The one link of an email's plain text."""
    links = LINK.findall(text_of(message))
    assert len(links) == 1, links
    return links[0]


def token_in(message: EmailMessage) -> str:
    return link_in(message).split("token=", 1)[1]


@dataclass
class SmtpServer:
    url: str
    inbox: Inbox
    controller: Controller


@contextlib.contextmanager
def smtp_server(*, username: str | None = None, password: str | None = None
                ) -> Iterator[SmtpServer]:
    """aiosmtpd on a free port; with ``username`` it requires that login (over plain SMTP:
    fine on 127.0.0.1)."""
    inbox = Inbox()
    extra = {}
    if username is not None:
        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == username
                  and auth_data.password.decode() == password)
            if ok:
                inbox.logins.append(username)
            return AuthResult(success=ok, handled=False)

        extra = dict(authenticator=authenticate, auth_require_tls=False, auth_required=True)
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    try:
        yield SmtpServer(f"smtp://127.0.0.1:{port}?starttls=off&timeout=5", inbox, controller)
    finally:
        controller.stop()


@dataclass
class Stalled:
    port: int
    accepted: threading.Event  # a client is connected and waiting for the greeting
    listener: socket.socket
    held: list[socket.socket] = field(default_factory=list)

    def close(self) -> None:
        """Hang up on everyone (their waits fail at once) and stop listening."""
        with contextlib.suppress(OSError):  # wakes the thread blocked in accept (Linux)
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for conn in self.held:
            conn.close()


@contextlib.contextmanager
def stalled_server() -> Iterator[Stalled]:
    """A port that accepts connections and never says anything; leaving the block closes
    them (the waiting client then fails at once)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stalled = Stalled(listener.getsockname()[1], threading.Event(), listener)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            stalled.held.append(conn)
            stalled.accepted.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield stalled
    finally:
        stalled.close()

PUBLIC_URL = "http://triptych.test"


def mail_settings(home, url: str, **extra):
    """Settings of an install that sends mail through ``url`` (links point at PUBLIC_URL)."""
    from triptych.settings import Settings

    return Settings(home=home, smtp_url=url, public_url=PUBLIC_URL,
                    mail_from="Triptych <noreply@triptych.test>", _env_file=None, **extra)
