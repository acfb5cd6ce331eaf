"""Credit packs: a paid Checkout grants the pack's credits once; a refund or a dispute takes
them back.

Each event only records what it knows on the payment's row (keyed by the payment intent, and
row-locked, so events of one payment apply one after another whatever order they arrive in),
then ``reconcile`` brings the ledger to what the row says:

- granted: the pack's credits, once the completion is known (transfer ``payment:<pi>``);
- taken back: the pack's credits times the share refunded (Stripe's running
  ``amount_refunded`` over the amount paid), or all of them once disputed.

Credits already spent cannot be taken back: a reversal takes what the account's purchased
credits still hold (never below zero) and records the rest as the payment's ``shortfall``,
on the person's statement and for the operator (docs/operators/plans-and-payments.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from triptych.db.models import User
from triptych.db.payment_models import Payment
from triptych.service.ledger import Ledger


def payment_row(s: Session, payment_intent: str, now: datetime) -> Payment:
    """The payment's row, created if this is its first event, row-locked until commit."""
    query = select(Payment).where(Payment.payment_intent == payment_intent)
    if s.scalar(query) is None:
        try:
            with s.begin_nested():  # a concurrent event of the same payment may create it
                s.add(Payment(payment_intent=payment_intent, credits=0, amount_cents=0,
                              currency="", granted=0, refunded_cents=0, disputed=False,
                              reversed=0, shortfall=0, created_at=now, updated_at=now))
        except IntegrityError:
            pass
    row = s.scalar(query.with_for_update().execution_options(populate_existing=True))
    assert row is not None
    return row


def due_back(row: Payment) -> int:
    """Credits that should have left the account by now (taken back or short)."""
    if not row.granted:
        return 0
    if row.disputed:
        return row.granted
    if not row.refunded_cents:
        return 0
    if not row.amount_cents:  # a refund of an amount we never learnt: all of it
        return row.granted
    return row.granted * min(row.refunded_cents, row.amount_cents) // row.amount_cents


def reconcile(s: Session, ledger: Ledger, row: Payment, now: datetime,
              label: str = "") -> tuple[int, int]:
    """Bring the ledger to what the row says; returns (credits granted, taken back) now.
    ``label``: the pack as people know it, for the statement."""
    granted = taken = 0
    if row.user_id and row.credits and row.grant_event_id and not row.granted:
        user = s.get(User, row.user_id)
        assert user is not None
        ledger.grant(user, row.credits, key=f"payment:{row.payment_intent}", kind="purchase",
                     reason=f"bought {label or row.pack_id or 'credits'} "
                            f"(Stripe {row.session_id})")
        row.granted = granted = row.credits
    owed = due_back(row) - row.reversed - row.shortfall
    if owed > 0:
        why = "payment disputed" if row.disputed else "payment refunded"
        target = row.reversed + row.shortfall + owed
        taken = ledger.take_back(row.user_id, owed, key=f"reversal:{row.payment_intent}:{target}",
                                 reason=f"{why} (Stripe {row.session_id or row.payment_intent})")
        row.reversed += taken
        row.shortfall += owed - taken
    row.updated_at = now
    return granted, taken


def completed(s: Session, ledger: Ledger, row: Payment, *, event_id: str, user: User,
              session: dict, pack_id: str, credits: int, now: datetime,
              label: str = "") -> str:
    if row.grant_event_id is not None:
        return f"payment {row.payment_intent} was already granted by {row.grant_event_id}"
    row.grant_event_id = event_id
    row.user_id = user.id
    row.session_id = session.get("id")
    row.pack_id = pack_id
    row.credits = credits
    row.amount_cents = int(session.get("amount_total") or row.amount_cents or 0)
    row.currency = str(session.get("currency") or row.currency or "")
    granted, taken = reconcile(s, ledger, row, now, label)
    return f"granted {granted} credits to user {user.id}" + (
        f", took back {taken} (refunded or disputed earlier)" if taken or row.shortfall else "")


def refunded(s: Session, ledger: Ledger, row: Payment, charge: dict, now: datetime) -> str:
    row.refunded_cents = max(row.refunded_cents, int(charge.get("amount_refunded") or 0))
    if not row.amount_cents:
        row.amount_cents = int(charge.get("amount") or 0)
    _, taken = reconcile(s, ledger, row, now)
    if not row.granted:
        return f"refund of {row.payment_intent} recorded before its completion"
    return f"took back {taken} credits; {row.shortfall} short in all"


def disputed(s: Session, ledger: Ledger, row: Payment, now: datetime) -> str:
    row.disputed = True
    _, taken = reconcile(s, ledger, row, now)
    if not row.granted:
        return f"dispute of {row.payment_intent} recorded before its completion"
    return f"took back {taken} credits; {row.shortfall} short in all"
