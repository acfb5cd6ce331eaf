"""Tables of the operator's controls (migration 0005): run-time catalog overrides and the
audit log of admin actions.

An override is what an admin changed at run time over a model's card (the built-in catalog
plus the operator's files): its price, whether it takes new jobs. ``None`` keeps the card's
value. Every process reads them (``service/live_catalog.py``), so all see one catalog.

The audit log is append-only: who did what to whom, when, and the value before and after.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from triptych.db.models import Base


class ModelOverride(Base):
    __tablename__ = "model_overrides"

    model_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    credits: Mapped[int | None] = mapped_column(Integer)  # per image; None: the card's
    enabled: Mapped[bool | None] = mapped_column(Boolean)  # None: the card's
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(320))  # the actor, as the audit log names it


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the CLI
    actor: Mapped[str] = mapped_column(String(320))  # an admin's email, or "cli:<os user>"
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "model.price"
    target: Mapped[str] = mapped_column(String(320))  # a model id, an email, a key id
    old: Mapped[Any] = mapped_column(JSON, nullable=True)
    new: Mapped[Any] = mapped_column(JSON, nullable=True)
    note: Mapped[str] = mapped_column(String(500), default="")
