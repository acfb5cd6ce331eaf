"""The outbox: mail is queued with the transaction that decides it, sent after commit by a
sender, retried with backoff when the server is away, and sent once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from tests.conftest import BOTH_DBS
from tests.support.ports import refused_port
from tests.support.smtp_server import html_of, stalled_server, text_of

from triptych.db.email_models import OutboxMessage
from triptych.service import outbox
from triptych.service.mail_messages import Letter
from triptych.settings import Settings

LETTER = Letter("Subject line", "Plain words with https://x.test/reset?token=abc",
                "<p>HTML words</p>")


@pytest.fixture
def settings(tmp_path, smtp) -> Settings:
    return Settings(home=tmp_path / "home", smtp_url=smtp.url, public_url="http://t.test",
                    mail_from="Triptych <noreply@t.test>", _env_file=None)


def queue(tp, to="ada@example.com", *, key=None, kind="receipt") -> bool:
    with tp.ctx.sessions.begin() as s:
        return outbox.enqueue(s, tp.settings, tp.ctx.clock(), kind=kind, to=to, letter=LETTER,
                              key=key)


def rows(tp) -> list[OutboxMessage]:
    with tp.ctx.sessions.begin() as s:
        found = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        s.expunge_all()
        return found


@BOTH_DBS
def test_queued_mail_is_sent_after_commit_once_with_text_and_html(tp, smtp):
    assert queue(tp, key="receipt:1")
    assert not queue(tp, key="receipt:1")  # keyed: once
    sender = tp.account_email.outbox()
    assert sender.drain() == 1 and sender.drain() == 0
    [message] = smtp.inbox.wait(1)
    assert message["From"] == "Triptych <noreply@t.test>" and message["To"] == "ada@example.com"
    assert "Plain words" in text_of(message) and "HTML words" in html_of(message)
    [row] = rows(tp)
    assert row.sent_at is not None and row.attempts == 1
    assert row.text_body == "" and row.html_body == ""  # its link was a secret


def test_a_rolled_back_action_mails_nothing(tp, smtp):
    with pytest.raises(RuntimeError), tp.ctx.sessions.begin() as s:
        outbox.enqueue(s, tp.settings, tp.ctx.clock(), kind="reset", to="a@example.com",
                       letter=LETTER)
        raise RuntimeError("the action failed")
    assert rows(tp) == [] and tp.account_email.outbox().drain() == 0


def test_a_server_away_is_retried_with_backoff_then_given_up(tp, clock, smtp):
    queue(tp)
    sender = tp.account_email.outbox()
    with refused_port() as port:
        sender.transport = outbox.SmtpTransport(
            outbox.parse_smtp_url(f"smtp://127.0.0.1:{port}?timeout=2")).send
        assert sender.drain() == 0
        [row] = rows(tp)
        assert row.attempts == 1 and "Could not send" in row.last_error
        assert (row.next_attempt_at - clock()).total_seconds() == 30
        assert sender.drain() == 0 and rows(tp)[0].attempts == 1  # not due yet
        clock.advance(seconds=30)
        sender.drain()
        assert (rows(tp)[0].next_attempt_at - clock()).total_seconds() == 60  # doubled
    sender.transport = outbox.SmtpTransport(outbox.parse_smtp_url(smtp.url)).send
    clock.advance(seconds=60)
    assert sender.drain() == 1 and len(smtp.inbox.wait(1)) == 1

    queue(tp, "bob@example.com")
    with refused_port() as port:
        sender.transport = outbox.SmtpTransport(
            outbox.parse_smtp_url(f"smtp://127.0.0.1:{port}?timeout=2")).send
        for _ in range(outbox.MAX_ATTEMPTS):
            clock.advance(hours=1)
            sender.drain()
    gave_up = rows(tp)[1]
    assert gave_up.failed_at is not None and gave_up.attempts == outbox.MAX_ATTEMPTS
    clock.advance(hours=1)
    assert sender.drain() == 0


def test_without_smtp_nothing_is_queued(tmp_path, clock, fake_factory, fake_catalog):
    from triptych.client import Triptych

    tp = Triptych(Settings(home=tmp_path / "nomail", _env_file=None), clock=clock,
                  catalog=fake_catalog)
    assert not queue(tp) and rows(tp) == []


def test_account_emails_to_one_address_are_capped_per_hour(tp, clock):
    sent = [queue(tp, "victim@example.com", kind="reset") for _ in range(7)]
    assert sent == [True] * 5 + [False] * 2
    assert queue(tp, "victim@example.com", kind="receipt")  # not something anyone can ask for
    clock.advance(minutes=61)
    assert queue(tp, "victim@example.com", kind="reset")


@BOTH_DBS
def test_two_senders_draining_at_once_send_each_email_once(tp, smtp):
    for i in range(12):
        queue(tp, f"user{i}@example.com")
    senders = [tp.account_email.outbox() for _ in range(3)]
    barrier = threading.Barrier(len(senders))
    counts: list[int] = []

    def drain(sender) -> None:
        barrier.wait()
        counts.append(sender.drain(limit=50))

    threads = [threading.Thread(target=drain, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 12
    assert sorted(m["To"] for m in smtp.inbox.wait(12)) == sorted(
        f"user{i}@example.com" for i in range(12))
    assert len(smtp.inbox.messages) == 12


def test_the_sender_thread_sends_after_commit_and_a_stalled_server_blocks_no_one(tp, smtp):
    mailer = outbox.Mailer(tp.account_email.outbox(), poll=30)
    mailer.start()
    try:
        queue(tp, "first@example.com")  # the commit wakes the sender: no poll to wait for
        assert [m["To"] for m in smtp.inbox.wait(1)] == ["first@example.com"]
    finally:
        mailer.stop()

    with stalled_server() as stalled:
        sender = tp.account_email.outbox()
        sender.transport = outbox.SmtpTransport(
            outbox.parse_smtp_url(f"smtp://127.0.0.1:{stalled.port}?timeout=60")).send
        mailer = outbox.Mailer(sender, poll=30)
        mailer.start()
        assert queue(tp, "second@example.com")
        assert stalled.accepted.wait(10)  # the sender is now stuck waiting for a greeting
        assert queue(tp, "third@example.com")  # and the next action queues all the same
    mailer.stop()  # the stalled server is gone: its send failed, to be retried
    assert [r.to_address for r in rows(tp) if r.sent_at is None] == [
        "second@example.com", "third@example.com"]


def test_cli_mail_test_and_status(tp, smtp, monkeypatch):
    import json

    from click.testing import CliRunner
    from pydantic import SecretStr

    from triptych.cli import app as app_module
    from triptych.cli.main import cli

    monkeypatch.setattr(app_module, "_base", lambda: tp)
    runner = CliRunner()
    sent = runner.invoke(cli, ["mail", "test", "ops@example.com"])
    assert sent.exit_code == 0 and "Sent a test email" in sent.output
    [message] = smtp.inbox.wait(1)
    assert message["Subject"] == "Triptych can send email"
    queue(tp)
    status = json.loads(runner.invoke(cli, ["mail", "status", "--json"]).output)
    assert status == {"waiting": 1, "sent": 0, "failed": 0, "recent_errors": []}
    with refused_port() as port:
        monkeypatch.setattr(tp.settings, "smtp_url",
                            SecretStr(f"smtp://127.0.0.1:{port}?timeout=2"))
        failed = runner.invoke(cli, ["mail", "test", "ops@example.com", "--json"])
    assert failed.exit_code == 1 and "Could not send" in failed.output
