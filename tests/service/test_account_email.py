"""Accounts by emailed link, through a real SMTP server: sign-up by verification link (the
monthly grant waits for it), a taken address's owner told instead, password reset."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.conftest import BOTH_DBS
from tests.support.smtp_server import (
    PUBLIC_URL,
    link_in,
    mail_settings,
    token_in,
)

from triptych.db.auth_models import WebSession
from triptych.db.models import User
from triptych.errors import NotFound


@pytest.fixture
def settings(tmp_path, smtp):
    return mail_settings(tmp_path / "home", smtp.url)


def deliver(tp, smtp, count: int):
    tp.account_email.outbox().drain()
    return smtp.inbox.wait(count)


def user_row(tp, email: str) -> User | None:
    with tp.ctx.sessions.begin() as s:
        user = s.scalar(select(User).where(User.email == email))
        s.expunge_all()
        return user


@BOTH_DBS
def test_sign_up_waits_for_the_link_then_grants_and_signs_in(tp, smtp):
    assert tp.settings.verification_required  # the default once SMTP is set
    tp.account_email.sign_up("Ada@Example.com", "hash-of-ada")
    pending = user_row(tp, "ada@example.com")
    assert pending.password_hash is None and pending.email_verified_at is None
    assert tp.as_user("ada@example.com").credits(statement=False)["available"] == 0
    [mail] = deliver(tp, smtp, 1)
    assert mail["To"] == "ada@example.com" and mail["Subject"] == "Confirm your email address"
    assert link_in(mail).startswith(f"{PUBLIC_URL}/verify?token=")

    signed = tp.account_email.verify(token_in(mail), days=14)
    assert signed is not None and signed.member.email_verified and signed.token
    user = user_row(tp, "ada@example.com")
    assert user.password_hash == "hash-of-ada" and user.email_verified_at is not None
    assert tp.as_user("ada@example.com").credits(statement=False)["available"] == 50
    assert tp.account_email.verify(token_in(mail), days=14) is None  # once
    assert tp.verify_ledger() == []


@BOTH_DBS
def test_a_taken_address_mails_its_owner_a_reset_link_and_changes_nothing(tp, smtp):
    tp.accounts.create_user("owner@example.com", password_hash="owners-hash")
    tp.account_email.sign_up("owner@example.com", "attackers-hash")
    [mail] = deliver(tp, smtp, 1)
    assert mail["Subject"] == "Someone tried to sign up with your address"
    assert link_in(mail).startswith(f"{PUBLIC_URL}/reset?token=")
    assert user_row(tp, "owner@example.com").password_hash == "owners-hash"
    signed = tp.account_email.reset(token_in(mail), "new-owners-hash", days=14)
    assert signed is not None and user_row(tp, "owner@example.com").password_hash == \
        "new-owners-hash"


def test_a_pending_address_signed_up_again_gets_a_fresh_link_with_the_new_password(tp, smtp):
    tp.account_email.sign_up("kim@example.com", "first-hash")
    tp.account_email.sign_up("kim@example.com", "second-hash")
    first, second = deliver(tp, smtp, 2)
    assert second["Subject"] == "Confirm your email address"
    assert tp.account_email.verify(token_in(first), days=14) is None  # the newer link rules
    assert tp.account_email.verify(token_in(second), days=14) is not None
    assert user_row(tp, "kim@example.com").password_hash == "second-hash"


@BOTH_DBS
def test_reset_sets_the_password_and_ends_every_session(tp, smtp, clock):
    member = tp.accounts.create_user("sam@example.com", password_hash="old")
    for _ in range(3):
        tp.accounts.sign_in(member.id, days=14)
    tp.account_email.request_reset("sam@example.com")
    tp.account_email.request_reset("nobody@example.com")  # queues nothing
    [mail] = deliver(tp, smtp, 1)
    assert mail["To"] == "sam@example.com" and mail["Subject"] == "Reset your Triptych password"
    signed = tp.account_email.reset(token_in(mail), "new", days=14)
    assert signed is not None
    with tp.ctx.sessions.begin() as s:
        sessions = s.scalars(select(WebSession.user_id)).all()
    assert sessions == [member.id]  # only the one the reset just made
    assert tp.account_email.reset(token_in(mail), "again", days=14) is None
    assert user_row(tp, "sam@example.com").password_hash == "new"


def test_reset_links_expire_and_a_reset_retires_older_links(tp, smtp, clock):
    tp.accounts.create_user("lee@example.com", password_hash="old")
    tp.account_email.request_reset("lee@example.com")
    tp.account_email.request_reset("lee@example.com")
    older, newer = deliver(tp, smtp, 2)
    clock.advance(minutes=61)
    assert tp.account_email.reset(token_in(newer), "new", days=14) is None  # expired
    tp.account_email.request_reset("lee@example.com")
    [*_, fresh] = deliver(tp, smtp, 3)
    assert tp.account_email.reset(token_in(fresh), "new", days=14) is not None
    link = tp.account_email.reset_link("lee@example.com")
    assert link.startswith(f"{PUBLIC_URL}/reset?token=")
    with pytest.raises(NotFound):
        tp.account_email.reset_link("nobody@example.com")


def test_a_signed_in_user_can_ask_for_another_verification_link(tp, smtp):
    member = tp.accounts.sign_up("old@example.com", "hash", days=14).member  # not verified
    assert not member.email_verified
    assert tp.as_user("old@example.com").credits(statement=False)["available"] == 0
    assert tp.account_email.resend_verification(member.id)
    [mail] = deliver(tp, smtp, 1)
    assert tp.account_email.verify(token_in(mail), days=14) is not None
    assert tp.as_user("old@example.com").credits(statement=False)["available"] == 50
    assert not tp.account_email.resend_verification(member.id)  # already verified


def test_operator_made_accounts_count_as_verified(tp):
    assert tp.accounts.create_user("made@example.com").email_verified
    assert tp.as_user("cli@example.com").credits(statement=False)["available"] == 50
