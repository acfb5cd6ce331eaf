"""Browser sessions: an opaque random cookie token, stored as its SHA-256 with a per-session
CSRF token. Logging out deletes the row, so a stolen cookie dies with the session."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from triptych.db.auth_models import WebSession
from triptych.db.models import User

TOUCH_EVERY = timedelta(minutes=5)  # refresh last_seen at most this often (fewer writes)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(s: Session, user: User, now: datetime, days: int) -> tuple[str, WebSession]:
    """A new session for ``user``; returns the cookie token (shown once) and the row."""
    token = secrets.token_urlsafe(32)
    row = WebSession(token_hash=_digest(token), user_id=user.id,
                     csrf_token=secrets.token_urlsafe(32), created_at=now,
                     expires_at=now + timedelta(days=days), last_seen_at=now)
    s.add(row)
    # Opportunistic clean-up of expired sessions, so the table does not grow forever.
    s.execute(delete(WebSession).where(WebSession.expires_at < now))
    return token, row


def lookup_session(s: Session, token: str, now: datetime) -> tuple[WebSession, User] | None:
    row = s.get(WebSession, _digest(token))
    if row is None or row.expires_at <= now:
        return None
    user = s.get(User, row.user_id)
    if user is None or user.disabled_at is not None:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
    return row, user


def end_session(s: Session, token: str) -> None:
    s.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))

