"""Tables for email (migration 0007): single-use account links and the outbox.

An account token is a random secret mailed as a link; only its SHA-256 is stored, so a copy
of the database cannot be turned into a working link. The outbox holds each email from the
transaction that decided to send it until a sender delivers it (``service.outbox``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from triptych.db.models import Base


class AccountToken(Base):
    __tablename__ = "account_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # verify | reset
    # A sign-up's chosen password (Argon2id hash), set on the account when the link is used.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique when set: an email that must go once (a month's low-balance notice, a receipt).
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # verify | reset | signup-attempt | ...
    to_address: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)  # emptied once sent (links are secrets)
    html_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)  # a sender is on it
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime)  # gave up
    last_error: Mapped[str | None] = mapped_column(String(500))
