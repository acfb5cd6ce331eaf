"""Moving an account between plans (an operator, or a Stripe subscription starting or ending).

This month's allowance on a change:

- **Upgrade** (the new plan grants more each month): topped up at once to the new plan's
  allowance, less what this month already granted (a grant keyed by user, month and plan, so
  repeating the change grants nothing more).
- **Downgrade**: what is left of this month's allowance stays until month end (it was
  granted; taking it back would refuse jobs mid-month for no gain); from next month the
  lower plan's allowance is granted. An opt-in to unrestricted mode ends if the new plan
  does not include it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from triptych.catalog.plans import PlanBook
from triptych.db.models import User
from triptych.errors import InvalidRequest
from triptych.service.ledger import Ledger


@dataclass(frozen=True)
class PlanChange:
    old: str
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new


def change_plan(session: Session, ledger: Ledger, plans: PlanBook, user: User,
                plan_id: str) -> PlanChange:
    """Put ``user`` on ``plan_id`` in the caller's transaction (see the module docstring)."""
    if plan_id not in plans.plans:
        raise InvalidRequest(f"Unknown plan '{plan_id}'; plans are "
                             f"{', '.join(plans.plans)}.", field="plan")
    old = user.plan
    user.plan = plan_id
    if not plans.get(plan_id).unrestricted:
        user.unrestricted_opt_in = False
    session.flush()
    ledger.ensure_allowance(user)  # an upgrade tops up; a downgrade grants nothing
    return PlanChange(old, plan_id)
