"""Credit emails through a real SMTP server: the low-balance notice goes once a month when a
charge leaves fewer credits than the threshold; a receipt goes once per payment."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from tests.conftest import BOTH_DBS
from tests.support.smtp_server import (
    PUBLIC_URL,
    link_in,
    mail_settings,
    text_of,
)

from triptych.db.email_models import OutboxMessage
from triptych.service.account_notices import send_receipt


@pytest.fixture
def settings(tmp_path, smtp):
    return mail_settings(tmp_path / "home", smtp.url, low_balance_credits=10)


def queued(tp, kind: str) -> int:
    with tp.ctx.sessions.begin() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.kind == kind))


@BOTH_DBS
def test_low_balance_mail_goes_once_a_month(tp, smtp, clock):
    ada = tp.as_user("ada@example.com")
    for _ in range(3):  # 50 → 35 → 20 → 5
        ada.generate("a cat", "fake-premium")
        assert queued(tp, "low-balance") == (1 if _ == 2 else 0)
    ada.generate("a dog", "fake-draft")  # 4 left: still below, already told
    assert queued(tp, "low-balance") == 1
    tp.account_email.outbox().drain()
    [mail] = smtp.inbox.wait(1)
    assert mail["To"] == "ada@example.com" and "5 credits left" in text_of(mail)
    assert "renews on 2026-04-01" in text_of(mail)
    assert link_in(mail) == f"{PUBLIC_URL}/credits"

    clock.advance(days=20)  # April: a new allowance, a new notice when it runs low
    for _ in range(3):
        ada.generate("a cat", "fake-premium")
    assert queued(tp, "low-balance") == 2
    assert tp.verify_ledger() == []


def test_no_notice_while_the_balance_stays_above_the_threshold(tp):
    tp.as_user("bo@example.com").generate("a cat", "fake-general")
    assert queued(tp, "low-balance") == 0


@BOTH_DBS
def test_a_receipt_is_sent_once_per_payment_reference(tp, smtp):
    user_id = tp.as_user("payer@example.com").user_id
    for _ in range(3):  # a webhook delivered three times
        with tp.ctx.sessions.begin() as s:
            send_receipt(s, tp.settings, tp.ctx.clock(), user_id=user_id, credits=500,
                         amount="€10.00", description="500 credits",
                         reference="cs_test_123")
    assert queued(tp, "receipt") == 1
    tp.account_email.outbox().drain()
    [mail] = smtp.inbox.wait(1)
    assert mail["Subject"] == "Receipt: 500 credits"
    body = text_of(mail)
    assert "€10.00" in body and "cs_test_123" in body and "500 credits were added" in body
