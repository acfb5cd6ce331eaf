"""The audit log: every admin action (who, when, what, old -> new), appended in the same
transaction as the change it records, so neither exists without the other."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from triptych.db.operator_models import AuditEntry

# action -> how the admin pages say it
ACTIONS = {
    "credits.grant": "granted credits",
    "user.disable": "disabled an account",
    "user.enable": "enabled an account",
    "user.plan": "changed a plan",
    "session.revoke": "ended a sign-in",
    "key.revoke": "revoked an API key",
    "model.price": "changed a price",
    "model.enable": "turned a model on",
    "model.disable": "turned a model off",
    "model.reset": "reset a model to its card",
}


@dataclass(frozen=True)
class Actor:
    """Who acts: an admin account, or the operator at the command line (no account)."""

    id: int | None
    label: str  # an email, or "cli:<os user>"

    @classmethod
    def cli(cls) -> Actor:
        try:
            user = getpass.getuser()
        except Exception:  # no login name (a container): still say it was the CLI
            user = "unknown"
        return cls(None, f"cli:{user}")


def record(s: Session, now: datetime, actor: Actor, action: str, target: str,
           old: Any = None, new: Any = None, note: str = "") -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    s.execute(insert(AuditEntry).values(at=now, actor_id=actor.id, actor=actor.label,
                                        action=action, target=target[:320], old=old, new=new,
                                        note=note[:500]))


def entries(s: Session, *, limit: int, offset: int = 0, action: str | None = None,
            target: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """A page of entries, newest first, and how many match in all."""
    stmt = select(AuditEntry)
    count = select(func.count()).select_from(AuditEntry)
    if action:
        stmt, count = stmt.where(AuditEntry.action == action), count.where(
            AuditEntry.action == action)
    if target:
        stmt, count = stmt.where(AuditEntry.target == target), count.where(
            AuditEntry.target == target)
    rows = s.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).all()
    return [public(row) for row in rows], int(s.scalar(count) or 0)


def public(row: AuditEntry) -> dict[str, Any]:
    return {"id": row.id, "at": row.at.isoformat(timespec="seconds"), "actor": row.actor,
            "actor_id": row.actor_id, "action": row.action,
            "action_words": ACTIONS.get(row.action, row.action), "target": row.target,
            "old": row.old, "new": row.new, "note": row.note}
