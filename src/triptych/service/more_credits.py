"""How a person gets more credits: the credits page's packs when payments are on
(``TRIPTYCH_STRIPE_*``), the operator's payment page when there is one
(``TRIPTYCH_BILLING_URL``), else their administrator (``TRIPTYCH_ADMIN_CONTACT``, or the oldest
admin account's email). End users never see the operator's CLI."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from triptych.db.models import User
from triptych.settings import Settings


@dataclass(frozen=True)
class MoreCredits:
    buy_url: str | None
    contact: str | None  # an email or a sentence, shown as given

    def sentence(self) -> str:
        if self.buy_url:
            return f"Buy credits at {self.buy_url}."
        if self.contact:
            return f"Ask your administrator ({self.contact}) for more credits."
        return "Ask your administrator for more credits."

    @property
    def contact_is_email(self) -> bool:
        return bool(self.contact) and "@" in self.contact and " " not in self.contact


BUY_HERE = "/credits#buy"  # the credits page's packs and plans (payments through Stripe)


def more_credits(settings: Settings, session: Session) -> MoreCredits:
    if settings.payments_on:
        return MoreCredits(BUY_HERE, settings.admin_contact)
    if settings.billing_url:
        return MoreCredits(settings.billing_url, settings.admin_contact)
    contact = settings.admin_contact or session.scalar(
        select(User.email).where(User.role == "admin").order_by(User.id).limit(1))
    return MoreCredits(None, contact)
