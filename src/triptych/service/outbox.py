"""The outbox: every email is a row written in the transaction that decided to send it, and
a sender delivers it after that transaction commits.

Why an outbox rather than sending inline:

- the user's action never waits on the mail server, and never fails because of it: a sign-up
  commits and answers at once whether the SMTP server is quick, slow or down;
- an email exists only if its action committed (a rolled-back sign-up mails nothing), and
  every committed one is sent even if the process dies right after the commit: the row
  stays until a sender, in this or another process, delivers it;
- a server that refuses or times out is retried with backoff (30 s doubling to an hour,
  ``MAX_ATTEMPTS`` in all), then the row is marked failed and logged;
- a ``key`` makes an email that must go once (a month's low-balance notice, the receipt of
  a payment) idempotent: the unique column refuses a second.

Senders claim a row with one conditional ``UPDATE`` (``claimed_until``), as workers claim
jobs, so several server processes drain one outbox without sending anything twice, and a
sender that dies mid-send lets the claim lapse. Links in an email are secrets: a sent row
keeps its recipient and subject but not its body.

With no ``TRIPTYCH_SMTP_URL`` nothing is queued (there is nobody to send it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import event as sa_event
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from triptych.db.email_models import OutboxMessage
from triptych.service.clock import Clock
from triptych.service.mail_messages import Letter
from triptych.service.mail_transport import MailError, SmtpTransport, parse_smtp_url
from triptych.settings import Settings

log = logging.getLogger("triptych.mail")

MAX_ATTEMPTS = 8
CLAIM = timedelta(minutes=2)  # longer than a send can take (the SMTP timeout, several waits)
ACCOUNT_KINDS = ("verify", "reset", "signup-attempt")  # what anyone can make us send

# One event per sender of this process, set after a commit that queued mail (wakes them).
_wakers: set[threading.Event] = set()
_wakers_lock = threading.Lock()


def notify() -> None:
    with _wakers_lock:
        for waker in _wakers:
            waker.set()


def mail_enabled(settings: Settings) -> bool:
    return settings.smtp_url is not None


def recent_to(s: Session, address: str, now: datetime) -> int:
    """Account emails queued to ``address`` in the last hour (anyone can ask for them)."""
    return s.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.to_address == address, OutboxMessage.kind.in_(ACCOUNT_KINDS),
        OutboxMessage.created_at > now - timedelta(hours=1))) or 0


def enqueue(s: Session, settings: Settings, now: datetime, *, kind: str, to: str,
            letter: Letter, key: str | None = None) -> bool:
    """Queue ``letter`` in the caller's transaction. False: not queued (mail is off, ``key``
    was queued before, or ``to`` had its hourly share of account emails)."""
    if not mail_enabled(settings):
        return False
    if key is not None and s.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)):
        return False
    if kind in ACCOUNT_KINDS and recent_to(s, to, now) >= settings.mail_per_address:
        log.warning("not sending a %s email to %s: %d in the last hour", kind, to,
                    settings.mail_per_address)
        return False
    row = OutboxMessage(key=key, kind=kind, to_address=to, subject=letter.subject,
                        text_body=letter.text, html_body=letter.html, created_at=now,
                        attempts=0, next_attempt_at=now)
    try:
        with s.begin_nested():
            s.add(row)
    except IntegrityError:  # the same key, queued concurrently
        return False
    sa_event.listen(s, "after_commit", lambda _s: notify(), once=True)
    return True


def _message(sender: str, to: str, subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="triptych")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class Outbox:
    """Delivers queued rows. ``drain`` is safe to call from any number of processes."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, settings: Settings,
                 transport: Callable[[EmailMessage], None] | None = None) -> None:
        self.sessions = sessions
        self.clock = clock
        self.settings = settings
        if transport is None and settings.smtp_url is not None:
            transport = SmtpTransport(parse_smtp_url(settings.smtp_url.get_secret_value())).send
        self.transport = transport

    def send_now(self, to: str, letter: Letter) -> None:
        """Send one email at once, bypassing the queue (``triptych mail test``); raises
        ``MailError`` with the server's reason."""
        if self.transport is None:
            raise MailError("TRIPTYCH_SMTP_URL is not set: this install sends no email.")
        self.transport(_message(self.settings.mail_from, to, letter.subject, letter.text,
                                letter.html))

    def status(self) -> dict[str, object]:
        """How many emails wait, were sent and were given up on, and the latest errors."""
        with self.sessions.begin() as s:
            def count(*where) -> int:
                return s.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(*where)) or 0

            waiting = (OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
            errors = s.execute(select(OutboxMessage.id, OutboxMessage.kind,
                                      OutboxMessage.to_address, OutboxMessage.attempts,
                                      OutboxMessage.last_error)
                               .where(OutboxMessage.last_error.is_not(None))
                               .order_by(OutboxMessage.id.desc()).limit(5)).all()
            return {"waiting": count(*waiting), "sent": count(OutboxMessage.sent_at.is_not(None)),
                    "failed": count(OutboxMessage.failed_at.is_not(None)),
                    "recent_errors": [dict(row._mapping) for row in errors]}

    def _claim(self, limit: int) -> list[OutboxMessage]:
        now = self.clock()
        due = (OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None),
               OutboxMessage.next_attempt_at <= now,
               or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
        mine = []
        with self.sessions.begin() as s:
            for row_id in s.scalars(select(OutboxMessage.id).where(*due)
                                    .order_by(OutboxMessage.id).limit(limit)):
                claimed = s.execute(update(OutboxMessage).where(OutboxMessage.id == row_id, *due)
                                    .values(claimed_until=now + CLAIM,
                                            attempts=OutboxMessage.attempts + 1)
                                    .execution_options(synchronize_session=False))
                if claimed.rowcount == 1:
                    mine.append(row_id)
            rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(mine))
                                  .order_by(OutboxMessage.id)))
            s.expunge_all()
        return rows

    def drain(self, limit: int = 20) -> int:
        """Send what is due (up to ``limit``); returns how many were sent."""
        if self.transport is None:
            return 0
        sent = 0
        for row in self._claim(limit):
            try:
                self.transport(_message(self.settings.mail_from, row.to_address, row.subject,
                                        row.text_body, row.html_body))
            except MailError as exc:
                self._failed(row, exc.message)
                continue
            except Exception as exc:  # a bug or an odd server: keep the row, retry later
                log.exception("sending email %d failed", row.id)
                self._failed(row, f"{type(exc).__name__}: {exc}")
                continue
            with self.sessions.begin() as s:
                s.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                    sent_at=self.clock(), claimed_until=None, text_body="", html_body="",
                    last_error=None))
            sent += 1
        return sent

    def _failed(self, row: OutboxMessage, error: str) -> None:
        now = self.clock()
        values: dict = {"claimed_until": None, "last_error": error[:500]}
        if row.attempts >= MAX_ATTEMPTS:
            values.update(failed_at=now, text_body="", html_body="")
            log.error("gave up on email %d (%s) to %s after %d attempts: %s", row.id,
                      row.kind, row.to_address, row.attempts, error)
        else:
            wait = min(30 * 2 ** (row.attempts - 1), 3600)
            values["next_attempt_at"] = now + timedelta(seconds=wait)
            log.warning("email %d (%s) to %s not sent, retrying in %d s: %s", row.id,
                        row.kind, row.to_address, wait, error)
        with self.sessions.begin() as s:
            s.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values))


class Mailer:
    """A background thread of a server process that drains the outbox: at once after a
    commit that queued mail, and every ``poll`` seconds for retries and for rows queued by
    other processes (workers queue low-balance notices)."""

    def __init__(self, outbox: Outbox, poll: float = 10.0) -> None:
        self.outbox = outbox
        self.poll = poll
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            with _wakers_lock:
                _wakers.add(self._wake)
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="triptych-mailer")
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join(timeout=30)
            self._thread = None
            with _wakers_lock:
                _wakers.discard(self._wake)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                while self.outbox.drain() and not self._stop.is_set():
                    pass
            except Exception:  # the database away for a moment: try again at the next poll
                log.exception("draining the outbox failed")
