"""Single-use, expiring account links: address verification and password reset.

The secret is 256 random bits, mailed once inside a link; the database keeps only its
SHA-256 (like sessions and API keys), so reading the database gives no working link. Using a
token is one conditional ``UPDATE … WHERE used_at IS NULL AND expires_at > now``: of two
concurrent uses the database lets exactly one change the row (on PostgreSQL the second waits
for the first's row lock, then finds ``used_at`` set), so a link works once whatever the
race.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from triptych.db.email_models import AccountToken

VERIFY = "verify"
RESET = "reset"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(s: Session, user_id: int, purpose: str, now: datetime, lifetime: timedelta, *,
          password_hash: str | None = None) -> str:
    """A new token for ``user_id``; returns the secret (it exists only here)."""
    token = secrets.token_urlsafe(32)
    # Opportunistic clean-up, as sessions do: a day past expiry a token is only clutter.
    s.execute(delete(AccountToken).where(AccountToken.expires_at < now - timedelta(days=1)))
    s.add(AccountToken(token_hash=digest(token), user_id=user_id, purpose=purpose,
                       password_hash=password_hash, created_at=now,
                       expires_at=now + lifetime, used_at=None))
    return token


def use(s: Session, token: str, purpose: str, now: datetime) -> AccountToken | None:
    """Spend the token: its row if this call used it, None if it is unknown, of another
    purpose, expired or already used (by anyone, including a concurrent call)."""
    if not token or len(token) > 100:
        return None
    key = digest(token)
    spent = s.execute(update(AccountToken)
                      .where(AccountToken.token_hash == key, AccountToken.purpose == purpose,
                             AccountToken.used_at.is_(None), AccountToken.expires_at > now)
                      .values(used_at=now).execution_options(synchronize_session=False))
    if spent.rowcount != 1:
        return None
    return s.scalar(select(AccountToken).where(AccountToken.token_hash == key)
                    .execution_options(populate_existing=True))


def retire(s: Session, user_id: int, purpose: str, now: datetime) -> None:
    """Use up the user's other live tokens of this purpose (a newer link, or a reset that
    happened, makes older links pointless)."""
    s.execute(update(AccountToken)
              .where(AccountToken.user_id == user_id, AccountToken.purpose == purpose,
                     AccountToken.used_at.is_(None))
              .values(used_at=now).execution_options(synchronize_session=False))
