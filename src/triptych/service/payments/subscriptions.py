"""Subscriptions: a Stripe subscription in good standing puts its account on the plan it was
bought for; when it ends the account goes back to free.

Stripe may deliver a subscription's events in any order. A cancelled subscription never comes
back (Stripe's ``canceled`` is final), so once one is seen, later-arriving activations of the
same subscription are ignored; other changes apply only if no newer event was applied
(Stripe's event ``created`` time).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from triptych.catalog.plans import DEFAULT_PLAN, PlanBook
from triptych.db.models import User
from triptych.db.payment_models import Subscription
from triptych.service.ledger import Ledger
from triptych.service.plan_changes import change_plan

ENTITLED = ("active", "trialing", "past_due")  # past_due: Stripe is still retrying the card
FINAL = ("canceled", "incomplete_expired")


def _row(s: Session, sub_id: str, *, user_id: int, plan_id: str, status: str,
         customer: str | None, created: int, now: datetime) -> tuple[Subscription, bool]:
    """The subscription's row, row-locked; created (with these values) if new."""
    query = select(Subscription).where(Subscription.id == sub_id)
    fresh = False
    if s.scalar(query) is None:
        try:
            with s.begin_nested():
                s.add(Subscription(id=sub_id, user_id=user_id, plan_id=plan_id, status=status,
                                   customer_id=customer, cancel_at_period_end=False,
                                   event_created=created, created_at=now, updated_at=now))
            fresh = True
        except IntegrityError:
            pass
    row = s.scalar(query.with_for_update().execution_options(populate_existing=True))
    assert row is not None
    return row, fresh


def started(s: Session, ledger: Ledger, plans: PlanBook, *, user: User, plan_id: str,
            sub_id: str, customer: str | None, created: int, now: datetime) -> str:
    """A subscription's Checkout completed: paid, so in good standing unless a later event
    (already applied) says otherwise."""
    row, fresh = _row(s, sub_id, user_id=user.id, plan_id=plan_id, status="active",
                      customer=customer, created=created, now=now)
    if not fresh:
        row.customer_id = row.customer_id or customer
    return sync_plan(s, ledger, plans, row.user_id)


def changed(s: Session, ledger: Ledger, plans: PlanBook, *, sub: dict, user_id: int | None,
            plan_id: str, deleted: bool, created: int, now: datetime) -> str:
    status = "canceled" if deleted else str(sub.get("status") or "")
    sub_id = str(sub["id"])
    existing = s.get(Subscription, sub_id)
    if existing is None and user_id is None:
        return f"subscription {sub_id} is not one of ours"
    row, fresh = _row(s, sub_id, user_id=existing.user_id if existing else user_id,
                      plan_id=plan_id, status=status, customer=sub.get("customer"),
                      created=created, now=now)
    if not fresh:
        if row.status in FINAL:
            return f"subscription {sub_id} already ended; {status} ignored"
        if created < row.event_created:
            return f"subscription {sub_id}: an older event ({status}) ignored"
        row.status = status
        row.event_created = created
    row.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
    row.updated_at = now
    return f"subscription {sub_id} {status}; " + sync_plan(s, ledger, plans, row.user_id)


def sync_plan(s: Session, ledger: Ledger, plans: PlanBook, user_id: int) -> str:
    """Put the account on the best plan its subscriptions in good standing pay for; with none,
    back to free if its plan came from a subscription (a plan an operator set stays)."""
    if s.get_bind().dialect.name == "postgresql":  # as a submit locks it (NO KEY UPDATE)
        s.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))
    user = s.get(User, user_id, populate_existing=True)
    assert user is not None
    subs = list(s.scalars(select(Subscription).where(Subscription.user_id == user_id)))
    good = [sub.plan_id for sub in subs if sub.status in ENTITLED and sub.plan_id in plans.plans]
    if good:
        target = max(good, key=lambda p: plans.get(p).monthly_credits)
    elif user.plan in {sub.plan_id for sub in subs}:
        target = DEFAULT_PLAN
    else:
        return f"user {user_id} stays on {user.plan}"
    change = change_plan(s, ledger, plans, user, target)
    return f"user {user_id} {change.old} -> {change.new}" if change.changed else \
        f"user {user_id} stays on {user.plan}"


def active_for(s: Session, user_id: int) -> Subscription | None:
    """The account's subscription in good standing, if any (newest first)."""
    return s.scalar(select(Subscription).where(Subscription.user_id == user_id,
                                               Subscription.status.in_(ENTITLED))
                    .order_by(Subscription.created_at.desc()).limit(1))
