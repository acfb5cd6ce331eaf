"""Accounts by email link: signing up through a verification link, confirming an address,
and resetting a password. Reached through the facade as ``tp.account_email``.

Nothing here tells a caller whether an address has an account. A sign-up for an address
that has one queues an email to its owner (with a reset link) instead of a verification
link, and answers exactly as for a new address; a reset request for an unknown address
queues nothing and answers as for a known one.

A sign-up made through a link is "pending" until the link is used: the account row exists
(so the address is taken and the first account is still the admin) with no password and no
verified address, and the chosen password's hash waits on the link's token. Using the link
sets it, verifies the address, grants the month's credits and signs in. A pending account
cannot log in (it has no password), so signing up and then trying to log in reveals nothing
either. A second sign-up of a pending address mails a fresh link carrying the new password:
whoever holds the mailbox decides which sign-up becomes the account.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from triptych.db.auth_models import WebSession
from triptych.db.models import User
from triptych.errors import InvalidRequest, NotFound
from triptych.service import account_notices, account_tokens, mail_messages, outbox, web_sessions
from triptych.service.account_tokens import RESET, VERIFY
from triptych.service.accounts import SignedIn, _member
from triptych.service.payments.receipts import Receipt
from triptych.service.users import create_user, normalise_email

SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£"}


def money(cents: int, currency: str) -> str:
    """"€10.00", or "10.00 CHF" for a currency without a symbol here."""
    amount = f"{cents / 100:,.2f}"
    symbol = SYMBOLS.get(currency.lower())
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"

if TYPE_CHECKING:
    from triptych.service.jobs import JobContext


def link(public_url: str | None, path: str, token: str) -> str:
    """The emailed address of a page taking ``token`` (relative when no public URL is set)."""
    return f"{(public_url or '').rstrip('/')}{path}?token={token}"


class AccountEmail:
    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx

    @property
    def _verify_for(self) -> timedelta:
        return timedelta(hours=self.ctx.settings.verify_link_hours)

    @property
    def _reset_for(self) -> timedelta:
        return timedelta(minutes=self.ctx.settings.reset_link_minutes)

    def receipt(self, receipt: Receipt) -> bool:
        """Queue the receipt of a committed payment (registered by a server as the payments'
        receipt hook); a payment reference is mailed once. True if queued."""
        if not outbox.mail_enabled(self.ctx.settings):
            return False
        with self.ctx.sessions.begin() as s:
            email = s.scalar(select(User.email).where(User.id == receipt.user_id))
            if email != receipt.email:  # another install's payment (one process, two databases)
                return False
            return account_notices.send_receipt(
                s, self.ctx.settings, self.ctx.clock(), user_id=receipt.user_id,
                credits=receipt.credits, amount=money(receipt.amount_cents, receipt.currency),
                description=receipt.description, reference=receipt.reference)

    def outbox(self) -> outbox.Outbox:
        """The sender of queued mail (a server's ``Mailer`` drains it)."""
        return outbox.Outbox(self.ctx.sessions, self.ctx.clock, self.ctx.settings)

    def _queue(self, s: Session, kind: str, to: str, letter: mail_messages.Letter) -> None:
        outbox.enqueue(s, self.ctx.settings, self.ctx.clock(), kind=kind, to=to, letter=letter)

    def _mail_verify(self, s: Session, user: User, password_hash: str | None) -> None:
        now = self.ctx.clock()
        account_tokens.retire(s, user.id, VERIFY, now)  # the newest link is the one that works
        token = account_tokens.issue(s, user.id, VERIFY, now, self._verify_for,
                                     password_hash=password_hash)
        self._queue(s, "verify", user.email, mail_messages.verify_address(
            link(self.ctx.settings.public_url, "/verify", token),
            self.ctx.settings.verify_link_hours * 60))

    def _mail_reset(self, s: Session, user: User, kind: str) -> None:
        token = account_tokens.issue(s, user.id, RESET, self.ctx.clock(), self._reset_for)
        url = link(self.ctx.settings.public_url, "/reset", token)
        minutes = self.ctx.settings.reset_link_minutes
        self._queue(s, kind, user.email, mail_messages.signup_attempt(url, minutes)
                    if kind == "signup-attempt" else mail_messages.reset_password(url, minutes))

    # -- signing up through a link ------------------------------------------------------------

    def sign_up(self, email: str, password_hash: str) -> None:
        """Start a sign-up: mail a verification link, or tell an existing account's owner.
        The caller answers the same whichever happened."""
        email = normalise_email(email)
        with self.ctx.sessions.begin() as s:
            user = s.scalar(select(User).where(User.email == email))
            if user is None:
                try:
                    user = create_user(s, email, self.ctx.clock, verified=False)
                    s.flush()
                    self._mail_verify(s, user, password_hash)
                    return
                except InvalidRequest:  # signed up concurrently: now it is taken
                    user = s.scalar(select(User).where(User.email == email))
                    assert user is not None
            if user.password_hash is None and user.email_verified_at is None:
                self._mail_verify(s, user, password_hash)  # still pending: a fresh link
            else:
                self._mail_reset(s, user, "signup-attempt")

    def tell_owner(self, email: str) -> None:
        """Someone tried to sign up with this taken address: mail its owner a reset link
        (when mail is configured)."""
        if not outbox.mail_enabled(self.ctx.settings):
            return
        with self.ctx.sessions.begin() as s:
            user = s.scalar(select(User).where(User.email == normalise_email(email)))
            if user is not None:
                self._mail_reset(s, user, "signup-attempt")

    def resend_verification(self, user_id: int) -> bool:
        """Mail the signed-in user a new verification link (False: already verified)."""
        with self.ctx.sessions.begin() as s:
            user = s.get(User, user_id)
            if user is None or user.email_verified_at is not None:
                return False
            self._mail_verify(s, user, None)
            return True

    def verify(self, token: str, *, days: int) -> SignedIn | None:
        """Use a verification link: the address is proved, a pending sign-up gets its
        password, this month's credits are granted, and the browser is signed in. None: the
        link is unknown, used or expired."""
        now = self.ctx.clock()
        with self.ctx.sessions.begin() as s:
            row = account_tokens.use(s, token, VERIFY, now)
            if row is None:
                return None
            user = s.get(User, row.user_id, with_for_update=True)
            assert user is not None
            if row.password_hash and user.password_hash is None:
                user.password_hash = row.password_hash
            return self._signed_in(s, user, days)

    # -- password reset -----------------------------------------------------------------------

    def request_reset(self, email: str) -> None:
        """Mail a reset link if the address has an account; do nothing visible otherwise."""
        if not outbox.mail_enabled(self.ctx.settings):
            return
        try:
            email = normalise_email(email)
        except InvalidRequest:
            return
        with self.ctx.sessions.begin() as s:
            user = s.scalar(select(User).where(User.email == email))
            if user is not None:
                self._mail_reset(s, user, "reset")

    def reset_link(self, email: str) -> str:
        """A one-time reset link for an existing account, printed by
        ``triptych users reset-link`` (how an admin hands an account its first password)."""
        with self.ctx.sessions.begin() as s:
            user = s.scalar(select(User).where(User.email == normalise_email(email)))
            if user is None:
                raise NotFound(f"No account for {email}. Create it with "
                               f"`triptych users create {email}`.")
            token = account_tokens.issue(s, user.id, RESET, self.ctx.clock(), self._reset_for)
            return link(self.ctx.settings.public_url, "/reset", token)

    def reset(self, token: str, password_hash: str, *, days: int) -> SignedIn | None:
        """Use a reset link: set the password, end every session of the account, and sign
        this browser in. None: the link is unknown, used or expired (of two concurrent uses,
        exactly one gets here)."""
        now = self.ctx.clock()
        with self.ctx.sessions.begin() as s:
            row = account_tokens.use(s, token, RESET, now)
            if row is None:
                return None
            user = s.get(User, row.user_id, with_for_update=True)
            assert user is not None
            user.password_hash = password_hash
            account_tokens.retire(s, user.id, RESET, now)
            account_tokens.retire(s, user.id, VERIFY, now)  # a pending sign-up's password
            s.execute(delete(WebSession).where(WebSession.user_id == user.id))
            return self._signed_in(s, user, days)  # the link came by mail: address proved

    def _signed_in(self, s: Session, user: User, days: int) -> SignedIn:
        now = self.ctx.clock()
        if user.email_verified_at is None:
            user.email_verified_at = now
            account_tokens.retire(s, user.id, VERIFY, now)
        s.flush()
        self.ctx.ledger(s).ensure_allowance(user)
        session_token, session_row = web_sessions.create_session(s, user, now, days)
        return SignedIn(_member(user), session_token, session_row.csrf_token)
