"""Emails about credits: the low-balance notice and the receipt of a payment.

Both are queued in the caller's transaction (``service.outbox``), so they exist only if the
charge or the payment committed, and each is keyed so it goes once: the low-balance notice
once per user per month, a receipt once per payment reference however often the payment is
applied or its webhook delivered.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from triptych.db.models import Account, User
from triptych.service import mail_messages, outbox
from triptych.service.clock import next_period_start, period_of
from triptych.settings import Settings


def _credits_link(settings: Settings) -> str:
    return f"{(settings.public_url or '').rstrip('/')}/credits"


def after_capture(s: Session, settings: Settings, now: datetime, user_id: int) -> bool:
    """Queue the month's low-balance notice if this user's spendable credits are now below
    ``TRIPTYCH_LOW_BALANCE_CREDITS`` (called after a charge, in its transaction). True if
    queued."""
    if settings.low_balance_credits <= 0 or not outbox.mail_enabled(settings):
        return False
    period = period_of(now)
    names = (f"user:{user_id}:allowance:{period}", f"user:{user_id}:purchased")
    available = sum(s.scalars(select(Account.balance).where(Account.name.in_(names))))
    if available >= settings.low_balance_credits:
        return False
    email = s.scalar(select(User.email).where(User.id == user_id))
    if email is None:
        return False
    letter = mail_messages.low_balance(available, next_period_start(now).date().isoformat(),
                                       _credits_link(settings))
    return outbox.enqueue(s, settings, now, kind="low-balance", to=email, letter=letter,
                          key=f"low-balance:{user_id}:{period}")


def send_receipt(s: Session, settings: Settings, now: datetime, *, user_id: int,
                 credits: int, amount: str, description: str, reference: str) -> bool:
    """Queue a receipt in the transaction that applies a payment. ``amount`` is the price as
    shown (e.g. "€10.00"), ``reference`` the payment's id (e.g. a Stripe Checkout session
    id): the same reference never mails twice. True if queued."""
    email = s.scalar(select(User.email).where(User.id == user_id))
    if email is None:
        return False
    letter = mail_messages.receipt(credits=credits, amount=amount, description=description,
                                   reference=reference, at=now.date().isoformat(),
                                   credits_link=_credits_link(settings))
    return outbox.enqueue(s, settings, now, kind="receipt", to=email, letter=letter,
                          key=f"receipt:{reference}"[:200])
