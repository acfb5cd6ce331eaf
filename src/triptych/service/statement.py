"""A person's credit statement in their own words, built from the ledger's transfers.

The ledger writes several transfers per job (a hold from each source, then a capture and/or a
refund); a person sees one line per job: what it cost, or that it was refunded and why.
Grants, the monthly free credits and expiries are lines of their own. Lines are newest first,
a page at a time: an entry's place is its first transfer's id (a job's hold), so a job never
straddles two pages and a page boundary never moves when older jobs settle.

    charge    3 credits — 'two cats' on Pico Diffusion
    partial   3 credits — 'two cats' on Flux Pro, 2 refunded: 2 of 4 images not delivered
    refund    Refunded 5 credits — 'two cats' on Flux Pro failed: provider timeout
    pending   5 credits set aside — 'two cats' on Flux Pro (in progress)
    monthly   +50 free credits for March 2026
    grant     +100 credits: <the operator's reason>
    expired   45 unused free credits from March 2026 expired
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, union_all
from sqlalchemy.orm import Session

from triptych.catalog.card import credits_text
from triptych.catalog.loader import Catalog
from triptych.db.models import Account, Job, Transfer
from triptych.service.clock import month_words

PROMPT_SHOWN = 60  # characters of a prompt on a line; the job page has the rest
# Job messages are written for the job page ("… Nothing was charged."); a refund line says so.
_CHARGE_NOTE = re.compile(r"\s*(Nothing was charged[^.]*\.|Cancelled by you\.)\s*")


@dataclass(frozen=True)
class Line:
    kind: str  # charge | partial | refund | pending | monthly | grant | reversal | expired
    at: datetime
    credits: int  # the headline number: charged, refunded, set aside, granted or expired
    delta: int  # effect on what the person can spend
    key: int  # place in the statement (paging cursor)
    refunded: int = 0
    job_id: str | None = None
    prompt: str = ""
    model: str = ""  # display name
    reason: str = ""  # why a refund, or the operator's reason for a grant
    period: str = ""  # YYYY-MM of a monthly grant or an expiry

    @property
    def text(self) -> str:
        """The line as a sentence, without the date."""
        what = f"'{_short(self.prompt)}' on {self.model}"
        if self.kind == "charge":
            return f"{credits_text(self.credits)} — {what}"
        if self.kind == "partial":
            return (f"{credits_text(self.credits)} — {what}, {self.refunded} refunded: "
                    f"{self.reason}")
        if self.kind == "refund":
            verb = "was cancelled" if self.reason == "cancelled" else f"failed: {self.reason}"
            return f"Refunded {credits_text(self.credits)} — {what} {verb}"
        if self.kind == "pending":
            return f"{credits_text(self.credits)} set aside — {what} (in progress)"
        if self.kind == "monthly":
            return f"+{self.credits} free credits for {_month(self.period)}"
        if self.kind == "grant":
            return f"+{credits_text(self.credits)}" + (f": {self.reason}" if self.reason else "")
        if self.kind == "reversal":  # a refunded or disputed payment
            return f"{credits_text(self.credits)} taken back: {self.reason}"
        unused = "1 unused free credit" if self.credits == 1 else \
            f"{self.credits} unused free credits"
        return f"{unused} from {_month(self.period)} expired"


@dataclass(frozen=True)
class Page:
    lines: list[Line]
    older: int | None  # cursor for the next (older) page; None at the end


@dataclass(frozen=True)
class ModelUse:
    model_id: str
    model: str
    credits: int
    jobs: int


def statement(s: Session, catalog: Catalog, user_id: int, *, limit: int = 25,
              before: int | None = None) -> Page:
    """One page of the user's statement, newest first, older than the cursor ``before``."""
    by_job = (select(func.min(Transfer.id).label("k"), Transfer.job_id.label("job_id"))
              .where(Transfer.user_id == user_id, Transfer.job_id.is_not(None))
              .group_by(Transfer.job_id))
    alone = (select(Transfer.id.label("k"), Transfer.job_id.label("job_id"))
             .where(Transfer.user_id == user_id, Transfer.job_id.is_(None)))
    entries = union_all(by_job, alone).subquery()
    query = select(entries.c.k, entries.c.job_id)
    if before is not None:
        query = query.where(entries.c.k < before)
    found = s.execute(query.order_by(entries.c.k.desc()).limit(limit + 1)).all()
    more = len(found) > limit
    found = found[:limit]
    job_ids = [row.job_id for row in found if row.job_id]
    alone_ids = [row.k for row in found if not row.job_id]
    transfers = list(s.scalars(select(Transfer).where(
        Transfer.user_id == user_id,
        or_(Transfer.job_id.in_(job_ids), Transfer.id.in_(alone_ids))).order_by(Transfer.id)))
    jobs = {j.id: j for j in s.scalars(select(Job).where(Job.id.in_(job_ids)))}
    account_ids = {t.from_account_id for t in transfers} | {t.to_account_id for t in transfers}
    accounts = {a.id: a for a in s.scalars(select(Account).where(Account.id.in_(account_ids)))}

    per_job: dict[str, list[Transfer]] = defaultdict(list)
    lines = []
    for t in transfers:
        if t.job_id:
            per_job[t.job_id].append(t)
        else:
            lines.append(_alone_line(t, accounts))
    for job_id, moves in per_job.items():
        line = _job_line(moves, jobs.get(job_id), catalog)
        if line is not None:
            lines.append(line)
    lines.sort(key=lambda line: line.key, reverse=True)
    return Page(lines, found[-1].k if more and found else None)


def _job_line(moves: list[Transfer], job: Job | None, catalog: Catalog) -> Line | None:
    held = sum(t.amount for t in moves if t.kind == "hold")
    charged = sum(t.amount for t in moves if t.kind == "capture")
    refunded = sum(t.amount for t in moves if t.kind == "void")
    voids = [t for t in moves if t.kind == "void"]
    if not held:
        return None  # a job's own expiry leftovers are lines of their own (no job id)
    first = moves[0]
    model_id = job.model_id if job else ""
    common = dict(at=first.created_at, key=first.id, job_id=first.job_id,
                  prompt=job.prompt if job else "", model=_model_name(catalog, model_id))
    if not charged and not refunded:
        return Line("pending", credits=held, delta=-held, **common)
    if not refunded:
        return Line("charge", credits=charged, delta=-charged, **common)
    if not charged:
        return Line("refund", credits=refunded, delta=0, reason=_refund_reason(job, voids),
                    **common)
    return Line("partial", credits=charged, delta=-charged, refunded=refunded,
                reason=_void_memo(voids), **common)


def _alone_line(t: Transfer, accounts: dict[int, Account]) -> Line:
    source, dest = accounts[t.from_account_id], accounts[t.to_account_id]
    common = dict(at=t.created_at, key=t.id, credits=t.amount)
    if t.kind == "expire":
        return Line("expired", delta=-t.amount, period=source.period or "", **common)
    if t.kind == "reversal":
        return Line("reversal", delta=-t.amount, reason=t.memo.strip(), **common)
    if dest.kind == "allowance":
        return Line("monthly", delta=t.amount, period=dest.period or "", **common)
    return Line("grant", delta=t.amount, reason=t.memo.strip(), **common)


def _refund_reason(job: Job | None, voids: list[Transfer]) -> str:
    if job is not None and job.status == "canceled":
        return "cancelled"
    if job is not None and job.error_message:
        reason = _CHARGE_NOTE.sub(" ", job.error_message).strip()
        if reason:
            return reason.rstrip(".")
    return _void_memo(voids) or "it did not finish"


def _void_memo(voids: list[Transfer]) -> str:
    memo = voids[0].memo if voids else ""
    return memo.removeprefix("refund: ").strip()


def usage_by_model(s: Session, catalog: Catalog, user_id: int, now: datetime) -> list[ModelUse]:
    """Credits spent this calendar month per model (what was charged, refunds excluded),
    most first."""
    start = datetime(now.year, now.month, 1)
    rows = s.execute(
        select(Job.model_id, func.sum(Transfer.amount), func.count(func.distinct(Job.id)))
        .join(Job, Job.id == Transfer.job_id)
        .where(Transfer.user_id == user_id, Transfer.kind == "capture",
               Transfer.created_at >= start)
        .group_by(Job.model_id)).all()
    uses = [ModelUse(model_id, _model_name(catalog, model_id), int(total), int(count))
            for model_id, total, count in rows]
    return sorted(uses, key=lambda u: (-u.credits, u.model))


def usual_model(s: Session, user_id: int, now: datetime, days: int = 30) -> str | None:
    """The model this person ran most in the last ``days`` days (ties: the latest)."""
    row = s.execute(
        select(Job.model_id).where(Job.user_id == user_id,
                                   Job.created_at >= now - timedelta(days=days))
        .group_by(Job.model_id)
        .order_by(func.count(Job.id).desc(), func.max(Job.created_at).desc())
        .limit(1)).first()
    return row[0] if row else None


def _model_name(catalog: Catalog, model_id: str) -> str:
    if model_id in catalog:
        return catalog.get(model_id).name
    return model_id or "a model"  # a model since removed from the catalog: its id is all we have


def _short(prompt: str) -> str:
    prompt = " ".join(prompt.split())
    return prompt if len(prompt) <= PROMPT_SHOWN else prompt[:PROMPT_SHOWN - 1].rstrip() + "…"


def _month(period: str) -> str:
    return month_words(period) if period else "an earlier month"
