"""Stripe's signed webhook deliveries: each event applied once, refunds and disputes reversed
in the ledger, out-of-order and concurrent deliveries ending in the right state."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import delete, select
from tests.conftest import BOTH_DBS
from tests.support.fake_stripe import delivery

from triptych.db.models import User
from triptych.db.payment_models import Payment, StripeEvent
from triptych.service.payments.errors import BadSignature
from triptych.service.payments.receipts import on_receipt, remove_hook

URLS = {"success_url": "http://t.test/credits?paid=1", "cancel_url": "http://t.test/credits"}


def send(tp, evt, **how):
    return tp.payments.webhook(*delivery(evt, **how))


def bought(tp, stripe_fake, pack="small"):
    """A pack's Checkout as the person opens it; returns the session id."""
    return tp.payments.checkout_pack(tp.user_id, pack, **URLS).id


def events(tp) -> int:
    with tp.ctx.sessions.begin() as s:
        return len(s.scalars(select(StripeEvent.id)).all())


@BOTH_DBS
def test_completed_grants_once_even_delivered_three_times(tp, stripe_fake):
    receipts = []
    hook = on_receipt(receipts.append)
    try:
        session = bought(tp, stripe_fake)
        evt = stripe_fake.completed(session)
        first = send(tp, evt)
        again = [send(tp, evt) for _ in range(2)]
    finally:
        remove_hook(hook)
    assert not first.duplicate and all(o.duplicate for o in again)
    credits = tp.credits()
    assert credits["purchased"] == 500 and credits["available"] == 550
    assert [(r.credits, r.reference, r.amount_cents) for r in receipts] == [(500, session, 500)]
    assert credits["statement"][0]["memo"] == f"bought 500 credits (Stripe {session})"
    assert events(tp) == 1 and tp.verify_ledger() == []


@BOTH_DBS
def test_refund_reverses_the_grant(tp, stripe_fake):
    session = bought(tp, stripe_fake)
    send(tp, stripe_fake.completed(session))
    send(tp, stripe_fake.refunded(session, amount_refunded=200))  # 2 of 5 dollars back
    assert tp.credits()["purchased"] == 300
    refund = stripe_fake.refunded(session)  # then the rest
    send(tp, refund)
    send(tp, refund)  # a replay takes nothing more
    credits = tp.credits()
    assert credits["purchased"] == 0 and credits["available"] == 50
    assert credits["statement"][0]["kind"] == "reversal"
    assert tp.verify_ledger() == []


@BOTH_DBS
def test_refund_after_the_credits_were_spent_records_the_shortfall(tp, stripe_fake):
    session = bought(tp, stripe_fake)
    send(tp, stripe_fake.completed(session))
    for _ in range(11):  # 55 credits: the 50 free ones, then 5 bought ones
        tp.generate("a cat", "fake-general")
    assert tp.credits()["purchased"] == 495
    send(tp, stripe_fake.disputed(session))
    assert tp.credits()["available"] == 0  # never below zero
    [payment] = tp.payments.payments_of(tp.user_id)
    assert (payment["granted"], payment["reversed"], payment["shortfall"]) == (500, 495, 5)
    assert payment["disputed"] and payment["user"] == tp.user_email
    assert tp.payments.payments_of(short_only=True) == [payment]  # the operator's list
    send(tp, stripe_fake.refunded(session))  # the refund after the dispute takes nothing more
    assert tp.payments.payments_of(tp.user_id)[0]["reversed"] == 495
    assert tp.verify_ledger() == []


@BOTH_DBS
def test_refund_before_its_completion(tp, stripe_fake):
    session = bought(tp, stripe_fake)
    completed = stripe_fake.completed(session)
    send(tp, stripe_fake.refunded(session))  # Stripe delivered these out of order
    assert tp.credits()["purchased"] == 0
    send(tp, completed)
    credits = tp.credits()
    assert credits["purchased"] == 0 and credits["available"] == 50
    [payment] = tp.payments.payments_of(tp.user_id)
    assert (payment["granted"], payment["reversed"], payment["shortfall"]) == (500, 500, 0)
    assert tp.verify_ledger() == []


@BOTH_DBS
def test_bad_signature_or_stale_timestamp_changes_nothing(tp, stripe_fake):
    evt = stripe_fake.completed(bought(tp, stripe_fake))
    payload, header = delivery(evt)
    with pytest.raises(BadSignature):
        tp.payments.webhook(payload, header.replace("v1=", "v1=0"))
    with pytest.raises(BadSignature):
        send(tp, evt, secret="whsec_someone_else")
    with pytest.raises(BadSignature):
        send(tp, evt, at=int(time.time()) - 3600)  # a delivery replayed an hour later
    with pytest.raises(BadSignature):
        tp.payments.webhook(payload.replace(b"500", b"900"), header)  # tampered
    with pytest.raises(BadSignature):
        tp.payments.webhook(payload, None)
    assert tp.credits()["purchased"] == 0 and events(tp) == 0
    send(tp, evt)  # the genuine delivery still applies
    assert tp.credits()["purchased"] == 500


@BOTH_DBS
def test_subscription_lifecycle(tp, stripe_fake):
    me = tp.credits()["user"]
    tp.payments.checkout_plan(tp.user_id, "pro", **URLS)
    session = next(reversed(stripe_fake.sessions))
    done = stripe_fake.completed(session)
    sub = done["data"]["object"]["subscription"]
    send(tp, done)
    credits = tp.credits()
    assert credits["plan"] == "pro" and credits["allowance"] == 500
    assert tp.payments.offer(tp.user_id).subscription["id"] == sub
    send(tp, stripe_fake.subscription(sub, "updated", status="past_due"))  # still retrying
    assert tp.credits()["plan"] == "pro"
    tp.payments.cancel_subscription(tp.user_id)  # at period end: still pro until Stripe says
    assert stripe_fake.subscriptions[sub]["cancel_at_period_end"] is True
    assert tp.credits()["plan"] == "pro"
    send(tp, stripe_fake.subscription(sub, "deleted"))
    credits = tp.credits()
    assert credits["plan"] == "free" and credits["allowance"] == 500  # kept to month end
    send(tp, stripe_fake.subscription(sub, "updated", status="active"))  # late, ignored
    assert tp.as_user(me).credits()["plan"] == "free"
    assert tp.verify_ledger() == []


@BOTH_DBS
def test_subscription_deleted_before_its_checkout_completed(tp, stripe_fake):
    tp.payments.checkout_plan(tp.user_id, "pro", **URLS)
    done = stripe_fake.completed(next(reversed(stripe_fake.sessions)))
    sub = done["data"]["object"]["subscription"]
    created = stripe_fake.subscription(sub, "created")
    deleted = stripe_fake.subscription(sub, "deleted")
    for evt in (deleted, done, created):  # the worst order Stripe could pick
        send(tp, evt)
    assert tp.credits()["plan"] == "free"


def test_operator_plan_is_not_touched_by_subscriptions(tp, stripe_fake):
    tp.set_plan(tp.credits()["user"], "pro")  # given by an operator, not bought
    from tests.support.fake_stripe import event
    send(tp, event("customer.subscription.deleted", {
        "id": "sub_other", "status": "canceled", "metadata": {}}))
    assert tp.credits()["plan"] == "pro"


def test_unknown_events_are_recorded_and_ignored(tp, stripe_fake):
    from tests.support.fake_stripe import event
    out = send(tp, event("invoice.paid", {"id": "in_1"}))
    assert out.did == "ignored" and events(tp) == 1


@BOTH_DBS
def test_verify_finds_a_grant_without_its_event(tp, stripe_fake):
    session = bought(tp, stripe_fake)
    send(tp, stripe_fake.completed(session))
    send(tp, stripe_fake.refunded(session, amount_refunded=100))
    with tp.ctx.sessions.begin() as s:
        s.execute(delete(StripeEvent))
        row = s.scalar(select(Payment))
        row.reversed, row.shortfall = 450, 100
        user = s.get(User, tp.user_id)
        tp.ctx.ledger(s).grant(user, 10, reason="forged", key="payment:pi_forged",
                               kind="purchase")
    problems = tp.verify_ledger()
    assert any("is not recorded" in p for p in problems)
    assert any("reversals sum to 100, recorded 450" in p for p in problems)
    assert any("exceeds the 500 granted" in p for p in problems)
    assert any("payment:pi_forged has no payment on record" in p for p in problems)


def _paid_pg(pg_tp, settings):
    for name in ("stripe_secret_key", "stripe_webhook_secret", "stripe_api_base"):
        setattr(pg_tp.settings, name, getattr(settings, name))
    return pg_tp


def _at_once(tp, bodies):
    """Deliver every body from its own thread, all released together; the outcomes."""
    barrier = threading.Barrier(len(bodies))
    outcomes, errors = [], []

    def deliver(body):
        barrier.wait()
        try:
            outcomes.append(tp.payments.webhook(*body))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    return outcomes


def test_concurrent_duplicates_on_postgres_grant_once(pg_tp, stripe_fake, settings):
    tp = _paid_pg(pg_tp, settings)
    session = bought(tp, stripe_fake)
    completed = delivery(stripe_fake.completed(session))
    refund = delivery(stripe_fake.refunded(session, amount_refunded=100))
    outcomes = _at_once(tp, [completed] * 3 + [refund] * 3)
    assert sorted(o.duplicate for o in outcomes) == [False, False, True, True, True, True]
    credits = tp.credits()
    assert credits["purchased"] == 400  # granted once, a fifth refunded once
    assert tp.verify_ledger() == []


def test_concurrent_subscription_events_on_postgres(pg_tp, stripe_fake, settings):
    tp = _paid_pg(pg_tp, settings)
    tp.payments.checkout_plan(tp.user_id, "pro", **URLS)
    done = stripe_fake.completed(next(reversed(stripe_fake.sessions)))
    sub = done["data"]["object"]["subscription"]
    bodies = [delivery(done), delivery(stripe_fake.subscription(sub, "created")),
              delivery(stripe_fake.subscription(sub, "deleted"))]
    _at_once(tp, bodies * 2)
    credits = tp.credits()
    assert credits["plan"] == "free" and events(tp) == 3
    assert credits["allowance"] in (50, 500)  # 500 if the start applied before the end
    assert tp.verify_ledger() == []


@BOTH_DBS
def test_delayed_payment_grants_when_it_succeeds(tp, stripe_fake):
    from tests.support.fake_stripe import event
    session = bought(tp, stripe_fake)
    pending = stripe_fake.completed(session, paid=False)  # e.g. a bank debit, not yet paid
    assert "not paid yet" in send(tp, pending).did
    assert tp.credits()["purchased"] == 0
    paid = {**pending["data"]["object"], "payment_status": "paid"}
    send(tp, event("checkout.session.async_payment_succeeded", paid))
    send(tp, event("checkout.session.completed", paid))  # another event, the same payment
    assert tp.credits()["purchased"] == 500 and tp.verify_ledger() == []
