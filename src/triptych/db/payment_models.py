"""Tables of payments through Stripe (migration 0006).

``stripe_events``: every webhook event applied, by Stripe's event id (the primary key is what
makes a replay a no-op). ``payments``: one row per paid credit pack, keyed by its payment
intent, with what it granted and what refunds or a dispute took back. ``subscriptions``: the
state of each Stripe subscription, which decides the account's plan.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from triptych.db.models import Base


class StripeEvent(Base):
    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # evt_…
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[int] = mapped_column(BigInteger)  # Stripe's timestamp (Unix seconds)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(500), default="")  # what applying it did


class Payment(Base):
    """A credit pack paid through Checkout. Events may arrive in any order: each one updates
    what it knows (the completion: who and how many credits; a refund: how much was refunded;
    a dispute: that it was disputed), then the row is reconciled with the ledger."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_intent: Mapped[str] = mapped_column(String(255), unique=True)  # pi_…
    session_id: Mapped[str | None] = mapped_column(String(255), unique=True)  # cs_…
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    pack_id: Mapped[str | None] = mapped_column(String(64))
    credits: Mapped[int] = mapped_column(Integer, default=0)  # what the pack grants
    amount_cents: Mapped[int] = mapped_column(Integer, default=0)  # what was paid
    currency: Mapped[str] = mapped_column(String(8), default="")
    grant_event_id: Mapped[str | None] = mapped_column(String(255))  # the completion's event
    granted: Mapped[int] = mapped_column(Integer, default=0)
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)  # Stripe's running total
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    reversed: Mapped[int] = mapped_column(Integer, default=0)  # credits taken back
    shortfall: Mapped[int] = mapped_column(Integer, default=0)  # due back, but already spent
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # sub_…
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(255), index=True)  # cus_…
    plan_id: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))  # Stripe's: active, past_due, canceled…
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    event_created: Mapped[int] = mapped_column(BigInteger, default=0)  # latest applied
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
