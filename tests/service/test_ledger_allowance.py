"""The monthly allowance: granted on the 1st, used first, expired (not deleted), never twice."""

from datetime import datetime

from sqlalchemy import func, select

from triptych.db.models import Account, Transfer
from triptych.service.ledger import EXPIRED, ISSUANCE


def test_new_account_gets_50_free_credits(tp):
    credits = tp.credits()
    assert credits["available"] == 50 and credits["allowance"] == 50
    assert credits["renews_on"] == "2026-04-01"


def test_allowance_is_spent_before_purchased(tp):
    tp.grant(tp.user_email, 20, reason="bought a pack")
    tp.generate("a cat", "fake-general")
    credits = tp.credits()
    assert (credits["allowance"], credits["purchased"]) == (45, 20)


def test_month_end_expires_leftovers_and_renews(tp, clock):
    tp.grant(tp.user_email, 20, reason="bought")
    tp.generate("a cat", "fake-general")  # 45 free left
    clock.now = datetime(2026, 4, 1, 0, 0, 1)
    credits = tp.credits()
    assert (credits["allowance"], credits["purchased"]) == (50, 20)
    assert credits["renews_on"] == "2026-05-01"
    expired = [line for line in credits["statement"] if line["kind"] == "expire"]
    assert [(e["amount"], e["delta"]) for e in expired] == [(45, -45)]
    with tp.ctx.sessions.begin() as s:  # expired, not deleted
        march = s.scalar(select(Account).where(Account.name.like("%allowance:2026-03")))
        assert march.balance == 0 and march.closed_at is not None
        assert s.scalar(select(Account.balance).where(Account.name == EXPIRED)) == 45
    assert tp.verify_ledger() == []


def test_never_double_grants(tp, clock):
    for _ in range(3):
        tp.credits()
        tp.as_user(tp.user_email).credits()
    with tp.ctx.sessions.begin() as s:
        grants = s.scalar(select(func.count(Transfer.id)).where(Transfer.kind == "grant"))
        assert grants == 1
        assert s.scalar(select(Account.balance).where(Account.name == ISSUANCE)) == -50


def test_year_rollover_and_skipped_months(tp, clock):
    tp.credits()
    clock.now = datetime(2027, 1, 15)  # nothing happened for ten months
    credits = tp.credits()
    assert credits["allowance"] == 50 and credits["renews_on"] == "2027-02-01"
    assert tp.verify_ledger() == []


def test_refund_after_month_end_expires_with_the_month(tp, clock, settings):
    job = tp.submit("a cat", "fake-general")
    clock.now = datetime(2026, 4, 2)
    tp.credits()  # April's grant; March expires while 5 are still held
    tp.cancel(job["id"])
    credits = tp.credits()
    assert credits["available"] == 50 and credits["held"] == 0
    assert tp.verify_ledger() == []


def test_pro_plan_tops_up_this_month(tp, settings):
    tp.credits()
    credits = tp.set_plan(tp.user_email, "pro")
    assert credits["allowance"] == settings.pro_monthly_credits
    tp.set_plan(tp.user_email, "pro")  # again: no second top-up
    assert tp.credits()["allowance"] == settings.pro_monthly_credits


def test_operator_grant_is_idempotent_by_key(tp):
    tp.grant("carol@example.com", 30, reason="refund for outage", key="ticket-17")
    tp.grant("carol@example.com", 30, reason="refund for outage", key="ticket-17")
    credits = tp.as_user("carol@example.com").credits()
    assert credits["purchased"] == 30
    assert credits["statement"][0]["memo"] == "refund for outage"
