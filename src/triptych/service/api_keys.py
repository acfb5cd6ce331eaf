"""API keys: 256-bit random secrets shown once, stored as SHA-256 with a visible prefix,
revocable, with a last-used time. Shared by the HTTP API and ``triptych keys``.

A key looks like ``tpk_<8 hex>_<43 url-safe chars>``; the ``tpk_<8 hex>`` part is the prefix
that listings show.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from triptych.db.auth_models import ApiKey
from triptych.db.models import User
from triptych.errors import InvalidRequest, NotFound

KEY_PREFIX = "tpk_"
MAX_KEYS_PER_USER = 50
TOUCH_EVERY = timedelta(minutes=1)  # write last_used_at at most this often per key


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


MAX_MONTHLY_CAP = 10_000_000


def create_key(s: Session, user: User, name: str, now: datetime,
               monthly_cap: int | None = None) -> tuple[ApiKey, str]:
    """Make a key for ``user``; returns the row and the secret (the only time it exists).
    ``monthly_cap``: the most credits it may spend (held or charged) per calendar month."""
    if monthly_cap is not None and (isinstance(monthly_cap, bool) or
                                    not 1 <= monthly_cap <= MAX_MONTHLY_CAP):
        raise InvalidRequest(f"A monthly spend cap is a whole number of credits from 1 to "
                             f"{MAX_MONTHLY_CAP}; leave it empty for no cap.",
                             field="monthly_cap")
    active = s.scalars(select(ApiKey.id).where(ApiKey.user_id == user.id,
                                               ApiKey.revoked_at.is_(None))).all()
    if len(active) >= MAX_KEYS_PER_USER:
        raise InvalidRequest(f"You have {len(active)} active keys; revoke one first.",
                             field="name")
    prefix = f"{KEY_PREFIX}{secrets.token_hex(4)}"
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(id=uuid.uuid4().hex, user_id=user.id, name=name.strip()[:100], prefix=prefix,
                 key_hash=digest(secret), created_at=now, monthly_cap=monthly_cap)
    s.add(row)
    s.flush()
    return row, secret


def list_keys(s: Session, user_id: int, *, include_revoked: bool = False) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.user_id == user_id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return list(s.scalars(stmt.order_by(ApiKey.created_at.desc(), ApiKey.id)))


def revoke_key(s: Session, user_id: int, key_id: str, now: datetime) -> ApiKey:
    """Revoke one of this user's keys; someone else's key is not found (404, not 403)."""
    row = s.get(ApiKey, key_id)
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        raise NotFound(f"No key {key_id}.")
    row.revoked_at = now
    return row


# Every API request runs this: one Core statement (key and account together), built once.
_BY_HASH = (select(ApiKey.id, ApiKey.revoked_at, ApiKey.last_used_at,
                   User.id.label("user_id"), User.email, User.role, User.plan,
                   User.unrestricted_opt_in, User.disabled_at)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.key_hash == bindparam("h")))
_TOUCH = update(ApiKey).where(ApiKey.id == bindparam("k")).values(last_used_at=bindparam("t"))


@dataclass(frozen=True)
class KeyOwner:
    """Who a valid key belongs to: the key's id and the account's fields a request needs."""

    key_id: str
    id: int  # the user's
    email: str
    role: str
    plan: str
    unrestricted_opt_in: bool


def authenticate(s: Session, secret: str, now: datetime) -> KeyOwner | None:
    if not secret.startswith(KEY_PREFIX):
        return None
    conn = s.connection()
    row = conn.execute(_BY_HASH, {"h": digest(secret)}).first()
    if row is None or row.revoked_at is not None or row.disabled_at is not None:
        return None
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        conn.execute(_TOUCH, {"k": row.id, "t": now})
    return KeyOwner(row.id, row.user_id, row.email, row.role, row.plan,
                    row.unrestricted_opt_in)


def key_public(row: ApiKey) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "prefix": row.prefix,
            "created_at": row.created_at.isoformat(timespec="seconds"),
            "last_used_at": (row.last_used_at.isoformat(timespec="seconds")
                             if row.last_used_at else None),
            "revoked_at": (row.revoked_at.isoformat(timespec="seconds")
                           if row.revoked_at else None),
            "monthly_cap": row.monthly_cap}
