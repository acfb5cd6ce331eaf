"""What admins do and see: run-time catalog changes (price, on/off), accounts (search,
disable, sign-ins, keys), usage, and the audit log. Each change and its audit entry commit in
one transaction; each call answers plain values.

Reached through the facade as ``tp.admin``; the web admin pages and the CLI both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from triptych.catalog.loader import UnknownModelError
from triptych.db.auth_models import WebSession
from triptych.db.models import Account, Image, Job, User
from triptych.db.operator_models import ModelOverride
from triptych.errors import InvalidRequest, NotFound
from triptych.service import api_keys, audit
from triptych.service.audit import Actor
from triptych.service.clock import period_of
from triptych.service.live_catalog import LiveCatalog, Override, apply, read_overrides

if TYPE_CHECKING:
    from triptych.service.jobs import JobContext

MAX_CREDITS = 1_000_000  # per image: a typo guard, far above any real price


@dataclass(frozen=True)
class CatalogRow:
    """One model as the admin's catalog page shows it: the card's values and the override."""

    id: str
    name: str
    provider: str
    tier: str
    card_credits: int
    card_enabled: bool
    credits: int
    enabled: bool
    override_credits: int | None
    override_enabled: bool | None
    updated_at: datetime | None
    updated_by: str | None


class Admin:
    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx

    def _base_card(self, model_id: str):
        catalog = self.ctx.catalog
        base = catalog.base if isinstance(catalog, LiveCatalog) else catalog
        try:
            return base.get(model_id)
        except UnknownModelError as exc:
            raise NotFound(str(exc), field="model") from None

    def _changed(self) -> None:
        if isinstance(self.ctx.catalog, LiveCatalog):
            self.ctx.catalog.expire()  # this process sees its own change at once

    # -- the catalog ------------------------------------------------------------------------

    def catalog(self) -> list[CatalogRow]:
        catalog = self.ctx.catalog
        base = catalog.base if isinstance(catalog, LiveCatalog) else catalog
        with self.ctx.sessions.begin() as s:
            rows = {r.model_id: r for r in s.scalars(select(ModelOverride))}
            overrides = read_overrides(s)
        out = []
        for card in base:
            row = rows.get(card.id)
            now = apply(card, overrides.get(card.id))
            out.append(CatalogRow(
                card.id, card.name, card.provider, card.tier, card.credits, card.enabled,
                now.credits, now.enabled, row.credits if row else None,
                row.enabled if row else None, row.updated_at if row else None,
                row.updated_by if row else None))
        return out

    def set_price(self, model_id: str, credits: int, actor: Actor) -> CatalogRow:
        """Charge ``credits`` per image for new jobs; jobs already held keep their price."""
        if not isinstance(credits, int) or isinstance(credits, bool) or \
                not 0 <= credits <= MAX_CREDITS:
            raise InvalidRequest(f"A price is a whole number of credits from 0 to "
                                 f"{MAX_CREDITS}.", field="credits")
        return self._override(model_id, actor, credits=credits)

    def set_enabled(self, model_id: str, enabled: bool, actor: Actor) -> CatalogRow:
        """Turn a model on or off for new jobs; jobs already queued or running finish."""
        return self._override(model_id, actor, enabled=enabled)

    def reset_model(self, model_id: str, actor: Actor) -> CatalogRow:
        """Drop the run-time override: the card's price and switch apply again."""
        card = self._base_card(model_id)
        now = self.ctx.clock()
        with self.ctx.sessions.begin() as s:
            row = s.get(ModelOverride, model_id, with_for_update=True)
            if row is not None:
                old = {"credits": row.credits, "enabled": row.enabled}
                s.delete(row)
                audit.record(s, now, actor, "model.reset", card.id, old,
                             {"credits": card.credits, "enabled": card.enabled})
        self._changed()
        return self._row(model_id)

    def _override(self, model_id: str, actor: Actor, **change: Any) -> CatalogRow:
        try:
            return self._override_once(model_id, actor, change)
        except IntegrityError:  # another admin made this model's first override meanwhile
            return self._override_once(model_id, actor, change)

    def _override_once(self, model_id: str, actor: Actor, change: dict[str, Any]
                       ) -> CatalogRow:
        card = self._base_card(model_id)
        now = self.ctx.clock()
        with self.ctx.sessions.begin() as s:
            row = s.get(ModelOverride, model_id, with_for_update=True)
            if row is None:
                row = ModelOverride(model_id=model_id, credits=None, enabled=None,
                                    updated_at=now, updated_by=actor.label)
                s.add(row)
            before = apply(card, Override(row.credits, row.enabled))
            for name, value in change.items():
                old = getattr(before, name)
                setattr(row, name, value)
                if old != value:
                    action = ("model.price" if name == "credits"
                              else "model.enable" if value else "model.disable")
                    audit.record(s, now, actor, action, model_id, old, value)
            row.updated_at, row.updated_by = now, actor.label
        self._changed()
        return self._row(model_id)

    def _row(self, model_id: str) -> CatalogRow:
        return next(r for r in self.catalog() if r.id == model_id)

    # -- accounts ---------------------------------------------------------------------------

    def users(self, query: str = "", *, limit: int = 50, offset: int = 0
              ) -> list[dict[str, Any]]:
        """Accounts whose email contains ``query``, newest first, with what they can spend."""
        with self.ctx.sessions.begin() as s:
            stmt = select(User)
            if query.strip():
                stmt = stmt.where(User.email.contains(query.strip().lower(), autoescape=True))
            users = list(s.scalars(stmt.order_by(User.id.desc()).limit(limit).offset(offset)))
            ids = [u.id for u in users]
            spendable = self._spendable(s, ids)
            sessions = dict(s.execute(
                select(WebSession.user_id, func.count()).where(
                    WebSession.user_id.in_(ids), WebSession.expires_at > self.ctx.clock())
                .group_by(WebSession.user_id)).all()) if ids else {}
            return [{**_user_public(u), "available": spendable.get(u.id, 0),
                     "sessions": sessions.get(u.id, 0)} for u in users]

    def _spendable(self, s, ids: list[int]) -> dict[int, int]:
        if not ids:
            return {}
        period = period_of(self.ctx.clock())
        rows = s.execute(select(Account.user_id, func.sum(Account.balance)).where(
            Account.user_id.in_(ids),
            or_(Account.kind == "purchased",
                (Account.kind == "allowance") & (Account.period == period)))
            .group_by(Account.user_id)).all()
        return {user_id: int(total or 0) for user_id, total in rows}

    def user(self, user_id: int) -> dict[str, Any]:
        """One account: its fields, what it can spend, its sign-ins and its keys."""
        now = self.ctx.clock()
        with self.ctx.sessions.begin() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound(f"No account {user_id}.")
            sessions = s.scalars(select(WebSession).where(
                WebSession.user_id == user_id, WebSession.expires_at > now)
                .order_by(WebSession.last_seen_at.desc())).all()
            keys = api_keys.list_keys(s, user_id)
            return {**_user_public(user), "available": self._spendable(s, [user_id]).get(
                        user_id, 0),
                    "sessions": [{"id": w.token_hash[:16], "created_at": w.created_at,
                                  "last_seen_at": w.last_seen_at, "expires_at": w.expires_at}
                                 for w in sessions],
                    "api_keys": [api_keys.key_public(k) for k in keys]}

    def set_disabled(self, user_id: int, disabled: bool, actor: Actor) -> dict[str, Any]:
        """Disable an account (its sign-ins end, its keys and password stop working) or
        enable it again. Jobs it already queued finish."""
        if disabled and actor.id == user_id:
            raise InvalidRequest("You cannot disable your own account.", field="user")
        now = self.ctx.clock()
        with self.ctx.sessions.begin() as s:
            user = s.get(User, user_id, with_for_update=True)
            if user is None:
                raise NotFound(f"No account {user_id}.")
            if (user.disabled_at is not None) != disabled:
                user.disabled_at = now if disabled else None
                words = ("enabled", "disabled")
                audit.record(s, now, actor, "user.disable" if disabled else "user.enable",
                             user.email, words[not disabled], words[disabled])
            if disabled:
                s.execute(delete(WebSession).where(WebSession.user_id == user_id))
            return _user_public(user)

    def revoke_session(self, user_id: int, session_id: str, actor: Actor) -> None:
        """End one of an account's sign-ins (``session_id``: the prefix the page shows)."""
        if len(session_id) != 16:
            raise NotFound("No such sign-in.")
        with self.ctx.sessions.begin() as s:
            user = s.get(User, user_id)
            row = s.scalar(select(WebSession).where(
                WebSession.user_id == user_id,
                WebSession.token_hash.startswith(session_id, autoescape=True)))
            if user is None or row is None:
                raise NotFound("No such sign-in (it may have ended already).")
            s.delete(row)
            audit.record(s, self.ctx.clock(), actor, "session.revoke", user.email,
                         {"session": session_id, "last_seen_at": row.last_seen_at.isoformat(
                             timespec="seconds")}, None)

    def revoke_key(self, user_id: int, key_id: str, actor: Actor) -> dict[str, Any]:
        with self.ctx.sessions.begin() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound(f"No account {user_id}.")
            row = api_keys.revoke_key(s, user_id, key_id, self.ctx.clock())
            audit.record(s, self.ctx.clock(), actor, "key.revoke", user.email,
                         {"key": row.id, "prefix": row.prefix}, None)
            return api_keys.key_public(row)

    def record(self, actor: Actor, action: str, target: str, old: Any = None,
               new: Any = None, note: str = "") -> None:
        """Append an entry for a change made elsewhere (e.g. a plan change)."""
        with self.ctx.sessions.begin() as s:
            audit.record(s, self.ctx.clock(), actor, action, target, old, new, note)

    # -- usage ------------------------------------------------------------------------------

    def usage(self, days: int = 30) -> dict[str, Any]:
        """Credits charged and images made, by model and by day, over the last ``days``
        days (UTC), and failed jobs by provider."""
        now = self.ctx.clock()
        start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0,
                                                         microsecond=0)
        with self.ctx.sessions.begin() as s:
            day = _day(s, Job.created_at)
            by_model_credits = dict(s.execute(
                select(Job.model_id, func.sum(Job.charged)).where(Job.created_at >= start)
                .group_by(Job.model_id)).all())
            by_model_images = dict(s.execute(
                select(Job.model_id, func.count(Image.id)).join(Image, Image.job_id == Job.id)
                .where(Job.created_at >= start).group_by(Job.model_id)).all())
            by_day_credits = dict(s.execute(
                select(day, func.sum(Job.charged)).where(Job.created_at >= start)
                .group_by(day)).all())
            by_day_images = dict(s.execute(
                select(day, func.count(Image.id)).join(Image, Image.job_id == Job.id)
                .where(Job.created_at >= start).group_by(day)).all())
            failures = s.execute(
                select(Job.model_id, Job.error_code, func.count()).where(
                    Job.created_at >= start, Job.status == "failed")
                .group_by(Job.model_id, Job.error_code)).all()
        names = {c.id: (c.name, c.provider) for c in self.ctx.catalog}
        models = sorted(set(by_model_credits) | set(by_model_images),
                        key=lambda m: -(by_model_credits.get(m) or 0))
        dates = [(start + timedelta(days=i)).date().isoformat() for i in range(days)]
        by_provider: dict[str, dict[str, int]] = {}
        for model_id, code, count in failures:
            provider = names.get(model_id, (model_id, "unknown"))[1]
            codes = by_provider.setdefault(provider, {})
            codes[code or "unknown"] = codes.get(code or "unknown", 0) + count
        return {
            "since": dates[0], "days": days,
            "by_model": [{"model": m, "name": names.get(m, (m, ""))[0],
                          "credits": int(by_model_credits.get(m) or 0),
                          "images": int(by_model_images.get(m) or 0)} for m in models],
            "by_day": [{"day": d, "credits": int(by_day_credits.get(d) or 0),
                        "images": int(by_day_images.get(d) or 0)} for d in dates],
            "failures": [{"provider": p, "total": sum(c.values()),
                          "codes": dict(sorted(c.items(), key=lambda kv: -kv[1]))}
                         for p, c in sorted(by_provider.items(),
                                            key=lambda kv: -sum(kv[1].values()))],
        }

    # -- the audit log ----------------------------------------------------------------------

    def audit(self, *, limit: int = 50, offset: int = 0, action: str | None = None,
              target: str | None = None) -> tuple[list[dict[str, Any]], int]:
        with self.ctx.sessions.begin() as s:
            return audit.entries(s, limit=limit, offset=offset, action=action, target=target)


def _day(s, column):
    """A timestamp's UTC day as ``YYYY-MM-DD`` text, on either database."""
    if s.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def _user_public(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "role": user.role, "plan": user.plan,
            "created_at": user.created_at, "disabled_at": user.disabled_at,
            "disabled": user.disabled_at is not None}

