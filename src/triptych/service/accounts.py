"""Accounts as the web UI and the CLI see them: users, browser sessions, API keys, the
credits page's statement and the admin's job list. Each call is its own transaction and
answers plain values (no ORM rows escape), so callers never open database sessions.

Reached through the facade as ``tp.accounts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from triptych.db.auth_models import ApiKey
from triptych.db.models import Image, Job, User
from triptych.errors import AccountDisabled, InvalidRequest, TriptychError
from triptych.service import api_keys, statement, web_sessions
from triptych.service.more_credits import MoreCredits, more_credits
from triptych.service.users import create_user, get_user, normalise_email

if TYPE_CHECKING:
    from triptych.service.jobs import JobContext


@dataclass(frozen=True)
class Member:
    """Who is signed in: what a request needs of the account."""

    id: int
    email: str
    role: str
    plan: str
    unrestricted_opt_in: bool
    created_at: datetime
    email_verified: bool = False

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "role": self.role, "plan": self.plan,
                "unrestricted_opt_in": self.unrestricted_opt_in,
                "email_verified": self.email_verified,
                "created_at": self.created_at.isoformat(timespec="seconds")}


def _member(user: User) -> Member:
    return Member(user.id, user.email, user.role, user.plan, user.unrestricted_opt_in,
                  user.created_at, user.email_verified_at is not None)


@dataclass(frozen=True)
class SignedIn:
    member: Member
    token: str  # the session cookie (exists only here, once)
    csrf_token: str


@dataclass(frozen=True)
class CreditsPage:
    page: statement.Page
    use: list[statement.ModelUse]
    usual: str | None
    more: MoreCredits


class Accounts:
    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx

    # -- users ------------------------------------------------------------------------------

    def create_user(self, email: str, *, admin: bool = False, plan: str = "free",
                    password_hash: str | None = None) -> Member:
        """A new account with this month's allowance (the first one on an install is an
        admin)."""
        if plan not in self.ctx.plans.plans:
            raise InvalidRequest(f"Unknown plan '{plan}'; plans are "
                                 f"{', '.join(self.ctx.plans.plans)}.", field="plan")
        with self.ctx.sessions.begin() as s:
            user = create_user(s, email, self.ctx.clock, admin=admin, plan=plan,
                               password_hash=password_hash)
            s.flush()
            self.ctx.ledger(s).ensure_allowance(user)
            return _member(user)

    def member(self, user_id: int) -> Member:
        with self.ctx.sessions.begin() as s:
            user = s.get(User, user_id)
            if user is None:
                raise TriptychError("This account no longer exists.")
            return _member(user)

    def by_email(self, email: str) -> Member:
        with self.ctx.sessions.begin() as s:
            return _member(get_user(s, email))

    def password_hash(self, email: str) -> tuple[int, str | None] | None:
        """The account's id and stored password hash, for checking a sign-in (None: no such
        account; the caller still spends the time of a check)."""
        with self.ctx.sessions.begin() as s:
            user = s.scalar(select(User).where(User.email == normalise_email(email)))
            return (user.id, user.password_hash) if user is not None else None

    # -- browser sessions -------------------------------------------------------------------

    def sign_up(self, email: str, password_hash: str, *, days: int) -> SignedIn:
        """Sign up and in at once (no verification link; see ``account_email`` for that)."""
        with self.ctx.sessions.begin() as s:
            user = create_user(s, email, self.ctx.clock, password_hash=password_hash,
                               verified=False)
            s.flush()
            self.ctx.ledger(s).ensure_allowance(user)
            token, row = web_sessions.create_session(s, user, self.ctx.clock(), days)
            return SignedIn(_member(user), token, row.csrf_token)

    def sign_in(self, user_id: int, *, days: int, new_hash: str | None = None) -> SignedIn:
        """A session for a checked password; ``new_hash`` replaces an outdated hash."""
        with self.ctx.sessions.begin() as s:
            user = s.get(User, user_id)
            if user is None:
                raise TriptychError("This account no longer exists.")
            if user.disabled_at is not None:
                raise AccountDisabled()
            if new_hash:
                user.password_hash = new_hash
            token, row = web_sessions.create_session(s, user, self.ctx.clock(), days)
            return SignedIn(_member(user), token, row.csrf_token)

    def session(self, token: str) -> tuple[Member, str] | None:
        """The member a session cookie belongs to and its CSRF token (None: unknown or
        expired)."""
        with self.ctx.sessions.begin() as s:
            found = web_sessions.lookup_session(s, token, self.ctx.clock())
            if found is None:
                return None
            row, user = found
            return _member(user), row.csrf_token

    def sign_out(self, token: str) -> None:
        with self.ctx.sessions.begin() as s:
            web_sessions.end_session(s, token)

    # -- API keys ---------------------------------------------------------------------------

    def authenticate(self, secret: str) -> api_keys.KeyOwner | None:
        with self.ctx.autocommit.begin() as s:  # a look-up, and at most one last-used stamp
            return api_keys.authenticate(s, secret, self.ctx.clock())

    def create_key(self, user_id: int, name: str, *,
                   monthly_cap: int | None = None) -> tuple[dict[str, Any], str]:
        """The new key's public fields and its secret (the only time it exists);
        ``monthly_cap``: credits it may spend per calendar month (None: no cap)."""
        with self.ctx.sessions.begin() as s:
            user = s.get(User, user_id)
            if user is None:
                raise TriptychError("This account no longer exists.")
            row, secret = api_keys.create_key(s, user, name, self.ctx.clock(), monthly_cap)
            return api_keys.key_public(row), secret

    def keys(self, user_id: int, *, include_revoked: bool = False) -> list[dict[str, Any]]:
        with self.ctx.sessions.begin() as s:
            return [api_keys.key_public(k)
                    for k in api_keys.list_keys(s, user_id, include_revoked=include_revoked)]

    def live_key(self, user_id: int, key_id: str) -> dict[str, Any] | None:
        """One of this account's keys if it is still live (not revoked, not another's)."""
        with self.ctx.sessions.begin() as s:
            row = s.get(ApiKey, key_id)
            if row is None or row.user_id != user_id or row.revoked_at is not None:
                return None
            return api_keys.key_public(row)

    def revoke_key(self, user_id: int, key_id: str) -> dict[str, Any]:
        with self.ctx.sessions.begin() as s:
            return api_keys.key_public(
                api_keys.revoke_key(s, user_id, key_id, self.ctx.clock()))

    # -- credits ----------------------------------------------------------------------------

    def more_credits(self) -> MoreCredits:
        """Where this install sends people for more credits."""
        with self.ctx.sessions.begin() as s:
            return more_credits(self.ctx.settings, s)

    def credits_page(self, user_id: int, *, limit: int, before: int | None) -> CreditsPage:
        now = self.ctx.clock()
        with self.ctx.sessions.begin() as s:
            return CreditsPage(
                statement.statement(s, self.ctx.catalog, user_id, limit=limit, before=before),
                statement.usage_by_model(s, self.ctx.catalog, user_id, now),
                statement.usual_model(s, user_id, now),
                more_credits(self.ctx.settings, s))

    # -- admin ------------------------------------------------------------------------------

    def all_jobs(self, *, limit: int, offset: int, status: str | None = None,
                 email: str | None = None) -> list[tuple[Job, list[Image], str]]:
        """Every account's jobs, newest first, with their images and owner's email: two
        queries, whatever the page size."""
        with self.ctx.sessions.begin() as s:
            stmt = select(Job, User.email).join(User, User.id == Job.user_id)
            if status:
                stmt = stmt.where(Job.status == status)
            if email:
                stmt = stmt.where(User.email == email.strip().lower())
            rows = s.execute(stmt.order_by(Job.created_at.desc(), Job.id.desc())
                             .limit(limit).offset(offset)).all()
            images: dict[str, list[Image]] = {}
            ids = [job.id for job, _ in rows]
            if ids:
                for image in s.scalars(select(Image).where(
                        Image.job_id.in_(ids), Image.deleted_at.is_(None))
                        .order_by(Image.index)):
                    images.setdefault(image.job_id, []).append(image)
            s.expunge_all()
            return [(job, images.get(job.id, []), owner) for job, owner in rows]
