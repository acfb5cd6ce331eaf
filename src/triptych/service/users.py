"""Accounts: look up or create users, change plan and content-mode opt-in."""

from __future__ import annotations

import re

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from triptych.db.models import User
from triptych.errors import InvalidRequest, NotFound
from triptych.service.clock import Clock

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
# PostgreSQL advisory-lock key that serialises the first sign-ups of a fresh install
# (any constant 64-bit integer; this one spells "tripfrst").
_FIRST_ACCOUNT_LOCK = int.from_bytes(b"tripfrst", "big")


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidRequest(f"'{email}' is not an email address.", field="email")
    return email


def get_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"No account for {email}. Create it with `triptych users create {email}`.")
    return user


def create_user(
    session: Session, email: str, clock: Clock, *, admin: bool = False,
    password_hash: str | None = None, plan: str = "free", verified: bool = True,
) -> User:
    """Create an account. The first account on a fresh install is an admin. ``verified``:
    the address counts as proved (an operator made the account); sign-ups pass False."""
    email = normalise_email(email)
    user = User(email=email, password_hash=password_hash, plan=plan,
                role="admin" if admin or _first_account(session) else "user",
                unrestricted_opt_in=False,
                created_at=clock(), email_verified_at=clock() if verified else None)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise InvalidRequest(f"An account for {email} already exists.", field="email") from None
    return user


def _first_account(session: Session) -> bool:
    """Whether no account exists yet, such that concurrent first sign-ups agree on one.

    SQLite runs every transaction as BEGIN IMMEDIATE, so writers are already serialised.
    PostgreSQL (READ COMMITTED) would let each racer count zero: while it looks like the
    first, a sign-up takes a transaction-scoped advisory lock and counts again; the lock
    is held until its commit, so the next racer's recount sees the first account."""
    if session.scalar(select(User.id).limit(1)) is not None:
        return False
    if session.get_bind().dialect.name != "postgresql":
        return True
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FIRST_ACCOUNT_LOCK})
    return session.scalar(select(User.id).limit(1)) is None


def get_or_create_user(session: Session, email: str, clock: Clock) -> User:
    email = normalise_email(email)
    user = session.scalar(select(User).where(User.email == email))
    if user is not None:
        return user
    try:
        return create_user(session, email, clock)
    except InvalidRequest:  # created concurrently
        return get_user(session, email)
