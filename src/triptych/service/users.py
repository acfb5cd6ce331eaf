"""Accounts: look up or create users, change plan and content-mode opt-in."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from triptych.db.models import User
from triptych.errors import InvalidRequest, NotFound
from triptych.service.clock import Clock

PLANS = ("free", "pro")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


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
    password_hash: str | None = None, plan: str = "free",
) -> User:
    """Create an account. The first account on a fresh install is an admin."""
    email = normalise_email(email)
    if plan not in PLANS:
        raise InvalidRequest(f"Unknown plan '{plan}'; plans are {', '.join(PLANS)}.", field="plan")
    first = (session.scalar(select(func.count(User.id))) or 0) == 0
    user = User(email=email, password_hash=password_hash, plan=plan,
                role="admin" if admin or first else "user", unrestricted_opt_in=False,
                created_at=clock())
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise InvalidRequest(f"An account for {email} already exists.", field="email") from None
    return user


def get_or_create_user(session: Session, email: str, clock: Clock) -> User:
    email = normalise_email(email)
    user = session.scalar(select(User).where(User.email == email))
    if user is not None:
        return user
    try:
        return create_user(session, email, clock)
    except InvalidRequest:  # created concurrently
        return get_user(session, email)
