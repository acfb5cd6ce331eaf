"""``triptych ledger verify``: check every ledger invariant against the database.

1. The books balance: the sum of all account balances is zero.
2. Every balance equals the sum of its transfers in minus out (nothing edited in place).
3. No account that may not go negative is negative.
4. No orphan holds: each user's held balance equals the open holds of their jobs; a job in a
   final state has no open hold; a queued or running job holds exactly its cost.
5. A settled job's captures and refunds add up to its hold; a succeeded job is charged what
   it delivered (``jobs.charged``), a failed or cancelled one nothing.
6. Expired (closed) allowance accounts hold nothing.
7. Payments: every payment grant (``purchase``) has its payment and the Stripe event that
   granted it on record, with the amount and account it says; nothing is granted twice; every
   reversal matches a granted payment, adds up to what the payment records as taken back,
   and never exceeds the grant.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from triptych.db.models import Account, Job, Transfer
from triptych.db.payment_models import Payment, StripeEvent
from triptych.service.job_status import CANCELED, FAILED, FINAL, SUCCEEDED


def verify_ledger(session: Session) -> list[str]:
    """Return a list of violations (empty when the ledger is sound)."""
    problems: list[str] = []
    accounts = {a.id: a for a in session.scalars(select(Account))}
    transfers = session.scalars(select(Transfer)).all()

    total = sum(a.balance for a in accounts.values())
    if total != 0:
        problems.append(f"books do not balance: accounts sum to {total}")

    flows: dict[int, int] = defaultdict(int)
    per_job: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for t in transfers:
        flows[t.to_account_id] += t.amount
        flows[t.from_account_id] -= t.amount
        if t.job_id:
            per_job[t.job_id][t.kind] += t.amount
    for account in accounts.values():
        if flows[account.id] != account.balance:
            problems.append(
                f"{account.name}: balance {account.balance} != transfers {flows[account.id]}"
            )
        if account.balance < 0 and not account.allow_negative:
            problems.append(f"{account.name}: negative balance {account.balance}")
        if account.kind == "allowance" and account.closed_at is not None and account.balance:
            problems.append(f"{account.name}: expired but still holds {account.balance}")

    open_by_user: dict[int, int] = defaultdict(int)
    for job in session.scalars(select(Job)):
        moves = per_job.get(job.id, {})
        hold, capture, void = moves.get("hold", 0), moves.get("capture", 0), moves.get("void", 0)
        if job.status in FINAL and capture + void != hold:
            problems.append(f"job {job.id}: charged {capture} + refunded {void} != held {hold}")
        open_hold = hold - capture - void
        open_by_user[job.user_id] += open_hold
        if job.status in FINAL and open_hold:
            problems.append(f"job {job.id} is {job.status} but still holds {open_hold}")
        if job.status not in FINAL and hold != job.cost:
            problems.append(f"job {job.id} is {job.status} and holds {hold}, not {job.cost}")
        if job.status == SUCCEEDED and (capture != job.charged or not capture and job.cost):
            problems.append(f"job {job.id} succeeded, charged {capture}, recorded {job.charged}")
        if job.status in (FAILED, CANCELED) and capture:
            problems.append(f"job {job.id} is {job.status} but was charged {capture}")

    for account in accounts.values():
        if account.kind == "held" and account.balance != open_by_user.get(account.user_id, 0):
            problems.append(
                f"{account.name}: holds {account.balance} but open job holds sum to "
                f"{open_by_user.get(account.user_id, 0)}"
            )
    problems += _verify_payments(session, transfers, accounts)
    return problems


def _verify_payments(session: Session, transfers: list[Transfer],
                     accounts: dict[int, Account]) -> list[str]:
    problems: list[str] = []
    payments = {p.payment_intent: p for p in session.scalars(select(Payment))}
    events = set(session.scalars(select(StripeEvent.id)))
    grants: dict[str, list[Transfer]] = defaultdict(list)
    reversals: dict[str, int] = defaultdict(int)
    for t in transfers:
        if t.kind == "purchase" and t.key.startswith("payment:"):
            grants[t.key.removeprefix("payment:")].append(t)
        elif t.kind == "reversal":
            pi = t.key.removeprefix("reversal:").rsplit(":", 1)[0]
            reversals[pi] += t.amount
            if pi not in payments:
                problems.append(f"reversal {t.key}: no payment {pi} on record")
            if accounts[t.to_account_id].kind != "system" or \
                    accounts[t.from_account_id].user_id != t.user_id:
                problems.append(f"reversal {t.key}: does not return the user's credits")
    for pi, moves in grants.items():
        payment = payments.get(pi)
        if payment is None:
            problems.append(f"payment grant payment:{pi} has no payment on record")
            continue
        if len(moves) > 1:
            problems.append(f"payment {pi} granted {len(moves)} times")
        t = moves[0]
        if payment.grant_event_id not in events:
            problems.append(f"payment {pi}: its grant's Stripe event "
                            f"{payment.grant_event_id} is not recorded")
        if t.amount != payment.granted or t.user_id != payment.user_id:
            problems.append(f"payment {pi}: granted {t.amount} to user {t.user_id}, recorded "
                            f"{payment.granted} to user {payment.user_id}")
        if accounts[t.to_account_id].kind != "purchased":
            problems.append(f"payment {pi}: granted into {accounts[t.to_account_id].name}")
    granted_events = [p.grant_event_id for p in payments.values() if p.grant_event_id]
    if len(granted_events) != len(set(granted_events)):
        problems.append("one Stripe event granted more than one payment")
    for pi, payment in payments.items():
        if payment.granted and pi not in grants:
            problems.append(f"payment {pi} records {payment.granted} granted, the ledger none")
        if reversals.get(pi, 0) != payment.reversed:
            problems.append(f"payment {pi}: reversals sum to {reversals.get(pi, 0)}, recorded "
                            f"{payment.reversed}")
        if payment.reversed + payment.shortfall > payment.granted:
            problems.append(f"payment {pi}: {payment.reversed} taken back + "
                            f"{payment.shortfall} short exceeds the {payment.granted} granted")
    return problems
