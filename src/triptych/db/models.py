"""Tables. The database is the source of truth: job state, ledger and idempotency keys commit
together. Credits are integers; the ledger is append-only (``transfers``), and
``accounts.balance`` is the running sum kept in the same transaction as each transfer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="user")  # user | admin
    plan: Mapped[str] = mapped_column(String(16), default="free")  # free | pro
    unrestricted_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)  # by an admin: no sign-in
    # When the owner proved the address (an emailed link); None: not yet (migration 0007).
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime)


class Account(Base):
    """A ledger account. User accounts never go negative; ``system:issuance`` may (it is where
    credits come from), so the sum of all balances is always zero."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("allow_negative OR balance >= 0", name="ck_accounts_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # allowance | purchased | held | system
    period: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM for allowance accounts
    balance: Mapped[int] = mapped_column(Integer, default=0)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)  # allowance expired


class Transfer(Base):
    """One append-only movement of credits. ``key`` is unique so a retried settle is a no-op."""

    __tablename__ = "transfers"
    __table_args__ = (CheckConstraint("amount > 0", name="ck_transfers_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    from_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    to_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # grant|purchase|hold|capture|void|expire
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(32), index=True)
    memo: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Compare(Base):
    __tablename__ = "compares"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    seed: Mapped[int] = mapped_column(Integer)
    sheet_path: Mapped[str | None] = mapped_column(String(500))
    keeper_job_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key", name="uq_jobs_idempotency"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    model_id: Mapped[str] = mapped_column(String(100), index=True)
    model_version: Mapped[str] = mapped_column(String(100), default="")
    prompt: Mapped[str] = mapped_column(Text)
    seed: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer, default=1)
    steps: Mapped[int | None] = mapped_column(Integer)
    content_mode: Mapped[str] = mapped_column(String(16), default="standard")
    cost: Mapped[int] = mapped_column(Integer)  # quoted and held at submit
    charged: Mapped[int] = mapped_column(Integer, default=0)  # captured: images delivered
    # queued -> running -> succeeded | failed | canceled
    status: Mapped[str] = mapped_column(String(16), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=1)  # 0 = pro (served first)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_field: Mapped[str | None] = mapped_column(String(64))
    error_side: Mapped[str | None] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    compare_id: Mapped[str | None] = mapped_column(ForeignKey("compares.id"), index=True)
    compare_index: Mapped[int | None] = mapped_column(Integer)  # column order on the sheet
    parent_job_id: Mapped[str | None] = mapped_column(String(32))
    # The API key that submitted it (its monthly spend cap counts this job); None: the web
    # UI, the CLI or the Python API.
    api_key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)  # last handed to a broker
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    seconds: Mapped[float | None] = mapped_column(Float)  # engine wall time
    provider_cost: Mapped[str | None] = mapped_column(String(100))  # operator-only
    notes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Image(Base):
    __tablename__ = "images"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(String(500))
    svg_path: Mapped[str | None] = mapped_column(String(500))
    media_type: Mapped[str] = mapped_column(String(50), default="image/png")
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    favourite_at: Mapped[datetime | None] = mapped_column(DateTime)  # starred in the gallery
