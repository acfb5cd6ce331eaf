"""The credits ledger: double-entry, append-only, integer credits.

Accounts per user: ``user:<id>:allowance:<YYYY-MM>`` (the monthly free grant),
``user:<id>:purchased`` (granted or sold by an operator) and ``user:<id>:held`` (reserved by
jobs in flight). System accounts: ``system:issuance`` (where credits come from; the only one
allowed below zero), ``system:revenue`` (captured spend) and ``system:expired``.

Every movement is a ``Transfer`` with a unique key, written in the caller's transaction
together with the balance updates, so a retried settle is a no-op and the books always sum
to zero. A debit is a conditional ``UPDATE … WHERE balance >= amount``: the database itself
refuses to take an account below zero, on SQLite and PostgreSQL alike, whatever the
concurrency. The allowance is spent before purchased credits and expires (moves to
``system:expired``) at month end; nothing is deleted.

Concurrency. SQLite runs one writer at a time (BEGIN IMMEDIATE). PostgreSQL runs READ
COMMITTED, so what a transaction read may be spent before it writes. There, every movement
first row-locks the user's accounts it will touch, all at once and in id order, and only then
reads balances and touches system accounts: so no two transactions each hold a row the other
waits for. The monthly grant also takes the user's row lock, as a submit does (the job
service), so two grants of one month cannot collide.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from triptych.db.models import Account, Job, Transfer, User
from triptych.errors import InsufficientCredits
from triptych.service.clock import Clock, next_period_start, period_of

ISSUANCE = "system:issuance"
REVENUE = "system:revenue"
EXPIRED = "system:expired"


class Overdraft(Exception):
    """A debit would take an account below zero (raised inside a transaction to abort it)."""


@dataclass(frozen=True)
class Balance:
    allowance: int  # this month's free credits left
    purchased: int
    held: int  # reserved by jobs in flight
    renews_on: str  # ISO date of the next monthly grant
    monthly_allowance: int

    @property
    def available(self) -> int:
        return self.allowance + self.purchased


@dataclass(frozen=True)
class AccountRef:
    """What the hot paths need of an account; names, kinds and periods never change."""

    id: int
    name: str
    kind: str
    period: str | None


@dataclass(frozen=True)
class HoldPart:
    """One hold transfer of a job: ``amount`` moved from a source account into held."""

    from_account_id: int
    to_account_id: int
    amount: int


HOLDS_KEPT = 4096  # jobs whose holds a process remembers until it settles them


@dataclass
class LedgerCache:
    """Per process, shared by every transaction: account names → refs, the months whose
    allowance is known granted, and the holds of jobs this process reserved credits for (a
    job's holds never change once committed; its settle then skips reading them back). Only
    committed facts go in (see ``Ledger._remember`` and ``Ledger._remember_holds``), so a
    rolled-back transaction never leaves an account id, a grant or a hold behind."""

    refs: dict[str, AccountRef] = field(default_factory=dict)
    by_id: dict[int, AccountRef] = field(default_factory=dict)
    granted: set[tuple[int, str, str]] = field(default_factory=set)  # user, period, plan
    holds: OrderedDict[str, tuple[HoldPart, ...]] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)


# Statements of the hot paths, built once: SQLAlchemy's Core with bound parameters costs a
# fraction of an ORM query per call, and a job runs a dozen of them.
_KEY_USED = select(Transfer.id).where(Transfer.key == bindparam("k"))
# SQLite: both balances in one UPDATE; the debit row qualifies only if it can pay, so a
# refusal updates one row, not two (and the caller's transaction is rolled back).
_MOVE = (update(Account)
         .where(Account.id.in_((bindparam("src"), bindparam("dst"))),
                or_(Account.id == bindparam("dst"), Account.allow_negative,
                    Account.balance >= bindparam("amt")))
         .values(balance=Account.balance + case((Account.id == bindparam("dst"),
                                                 bindparam("amt")),
                                                else_=-bindparam("amt"))))
_INSERT_TRANSFER = insert(Transfer)
_HOLDS = (select(Transfer.from_account_id, Transfer.to_account_id, Transfer.amount)
          .where(Transfer.job_id == bindparam("j"), Transfer.kind == "hold")
          .order_by(Transfer.id))
_SETTLED = (select(Transfer.kind, Transfer.amount)
            .where(Transfer.job_id == bindparam("j"), Transfer.kind.in_(("capture", "void"))))
_BALANCES = select(Account.name, Account.balance).where(Account.name.in_(bindparam("names")))
_LOCKED_BALANCES = (select(Account.name, Account.balance)
                    .where(Account.id.in_(bindparam("ids", expanding=True)))
                    .order_by(Account.id).with_for_update())
_REF_BY_ID = select(Account.id, Account.name, Account.kind, Account.period).where(
    Account.id.in_(bindparam("ids")))
_TRANSFER_FIELDS = (("key", String), ("from_account_id", Integer), ("to_account_id", Integer),
                    ("amount", Integer), ("kind", String), ("user_id", Integer),
                    ("job_id", String), ("memo", String), ("created_at", DateTime))


def _one_statement_transfer():
    """PostgreSQL: debit, credit and the transfer row in one statement (one round trip
    instead of three). Each step runs only if the one before it did, so a refused debit
    writes nothing; the statement answers how many transfers it wrote (1 or 0)."""
    # Bound names are prefixed: a name equal to a column of ``accounts`` (kind, user_id)
    # would be read as a value to SET by the nested UPDATEs.
    debit = (update(Account)
             .where(Account.id == bindparam("t_from_account_id"),
                    or_(Account.allow_negative, Account.balance >= bindparam("t_amount")))
             .values(balance=Account.balance - bindparam("t_amount"))
             .returning(Account.id).cte("debit"))
    credit = (update(Account)
              .where(Account.id == bindparam("t_to_account_id"), exists(select(debit.c.id)))
              .values(balance=Account.balance + bindparam("t_amount"))
              .returning(Account.id).cte("credit"))
    row = select(*(bindparam(f"t_{name}", type_=kind) for name, kind in _TRANSFER_FIELDS)).where(
        exists(select(credit.c.id)))
    moved = (insert(Transfer).from_select([name for name, _ in _TRANSFER_FIELDS], row)
             .returning(Transfer.id).cte("moved"))
    return select(func.count()).select_from(moved)


_PG_TRANSFER = _one_statement_transfer()
_CREATED = "ledger.created"  # session.info: account names created in this transaction
_HOLDS_PENDING = "ledger.holds"  # session.info: job id -> its holds made in this transaction
_GRANTED = "ledger.granted"  # session.info: an allowance was granted in this transaction


class Ledger:
    def __init__(self, session: Session, clock: Clock, monthly_grants: dict[str, int],
                 cache: LedgerCache | None = None, *, require_verified: bool = False) -> None:
        self.s = session
        self.clock = clock
        self.monthly_grants = monthly_grants  # plan -> credits per month
        self.require_verified = require_verified  # the grant waits for a verified address
        self.cache = cache or LedgerCache()
        self.postgres = session.get_bind().dialect.name == "postgresql"

    # -- accounts ---------------------------------------------------------------------------

    def _account(
        self,
        name: str,
        *,
        kind: str,
        user_id: int | None = None,
        period: str | None = None,
        allow_negative: bool = False,
    ) -> Account:
        account = self.s.scalar(select(Account).where(Account.name == name))
        if account is not None:
            return account
        account = Account(name=name, kind=kind, user_id=user_id, period=period, balance=0,
                          allow_negative=allow_negative)
        try:
            with self.s.begin_nested():  # another transaction may create it first
                self.s.add(account)
            self.s.info.setdefault(_CREATED, set()).add(name)
        except IntegrityError:
            account = self.s.scalar(select(Account).where(Account.name == name))
            assert account is not None
        return account

    def _ref(self, name: str, **how) -> AccountRef:
        """An account's ref: from the process cache, else looked up (or created)."""
        ref = self.cache.refs.get(name)
        if ref is not None:
            return ref
        account = self._account(name, **how)
        ref = AccountRef(account.id, account.name, account.kind, account.period)
        if name not in self.s.info.get(_CREATED, ()):  # committed before us: safe to keep
            self._remember(ref)
        return ref

    def _remember(self, ref: AccountRef) -> None:
        with self.cache.lock:
            self.cache.refs[ref.name] = ref
            self.cache.by_id[ref.id] = ref

    def _system(self, name: str) -> Account:
        return self._account(name, kind="system", allow_negative=name == ISSUANCE)

    def _allowance(self, user_id: int, period: str) -> Account:
        return self._account(
            f"user:{user_id}:allowance:{period}", kind="allowance", user_id=user_id, period=period
        )

    def _purchased(self, user_id: int) -> Account:
        return self._account(f"user:{user_id}:purchased", kind="purchased", user_id=user_id)

    def _held(self, user_id: int) -> Account:
        return self._account(f"user:{user_id}:held", kind="held", user_id=user_id)

    def _lock(self, account_ids: Iterable[int]) -> None:
        """Row-lock these accounts until the transaction ends, in id order: every transaction
        takes a user's accounts in that one order, so two cannot each hold what the other
        waits for. A no-op on SQLite, whose writer already holds the whole database."""
        ids = sorted(set(account_ids))
        if ids and self.postgres:
            self.s.execute(select(Account.id).where(Account.id.in_(ids)).order_by(Account.id)
                           .with_for_update())

    def _lock_user(self, user: User) -> None:
        """The user's row lock, as a submit takes it (NO KEY UPDATE: foreign-key checks of
        inserts that reference the user pass it), then all of the user's open accounts."""
        if not self.postgres:
            return
        self.s.execute(select(User.id).where(User.id == user.id)
                       .with_for_update(key_share=True))
        self._lock(self.s.scalars(select(Account.id).where(
            Account.user_id == user.id, Account.closed_at.is_(None))))

    # -- the one primitive ------------------------------------------------------------------

    def transfer(
        self,
        key: str,
        source: Account | AccountRef,
        dest: Account | AccountRef,
        amount: int,
        *,
        kind: str,
        user_id: int | None = None,
        job_id: str | None = None,
        memo: str = "",
        fresh: bool = False,
    ) -> bool:
        """Move ``amount`` credits; False if ``key`` was already applied (no-op). ``fresh``:
        the caller knows the key is new (a new job's hold, a settle under the job's lock),
        so the look-up is skipped; the unique key still refuses a duplicate."""
        if amount <= 0:
            raise ValueError("transfer amount must be positive")
        conn = self.s.connection()
        if not fresh and conn.execute(_KEY_USED, {"k": key}).first() is not None:
            return False
        row = {"key": key, "from_account_id": source.id, "to_account_id": dest.id,
               "amount": amount, "kind": kind, "user_id": user_id, "job_id": job_id,
               "memo": memo, "created_at": self.clock()}
        if self.postgres:
            if conn.execute(_PG_TRANSFER, {f"t_{k}": v for k, v in row.items()}).scalar_one() != 1:
                raise Overdraft(source.name)
        else:  # SQLite has no data-modifying CTEs; its statements cost no round trip
            moved = conn.execute(_MOVE, {"src": source.id, "dst": dest.id, "amt": amount})
            if moved.rowcount != 2:
                raise Overdraft(source.name)
            conn.execute(_INSERT_TRANSFER, row)
        for account in (source, dest):  # ORM copies in this session now hold old balances
            if isinstance(account, Account):
                self.s.expire(account)
        return True

    # -- the monthly allowance --------------------------------------------------------------

    def ensure_allowance(self, user: User) -> None:
        """Expire earlier months' leftovers, then grant this month's allowance once."""
        if self.require_verified and user.email_verified_at is None:
            return  # before the cache: verifying the address grants at once (service.links)
        now = self.clock()
        period = period_of(now)
        known = (user.id, period, user.plan)
        if known in self.cache.granted:
            return  # the common case, known in this process: no query at all
        grant = self.monthly_grants.get(user.plan, 0)
        if not self._stale(user.id, period) and grant <= self._granted(user.id, period):
            if not self.s.info.get(_GRANTED):  # committed by an earlier transaction
                with self.cache.lock:
                    self.cache.granted.add(known)
            return  # nothing to do, nothing locked
        self.s.info[_GRANTED] = True
        # Two transactions granting at once would both pass the checks and collide on the
        # transfer key (an error): the user's row lock makes the second wait, then find it done.
        self._lock_user(user)
        for account in self._stale(user.id, period):
            self._expire(account, key=f"expire:{account.name}")
            account.closed_at = now
        allowance = self._allowance(user.id, period)
        already = self._granted(user.id, period)
        if grant > already:
            # Keyed by user+month(+plan): a retry or a second process never double-grants;
            # an upgrade mid-month tops up to the new plan's allowance.
            self.transfer(
                f"allowance:{user.id}:{period}:{user.plan}", self._system(ISSUANCE), allowance,
                grant - already, kind="grant", user_id=user.id,
                memo=f"monthly allowance ({user.plan} plan) for {period}",
            )

    def _stale(self, user_id: int, period: str) -> list[Account]:
        """Earlier months' allowance accounts not yet expired."""
        return list(self.s.scalars(select(Account).where(
            Account.user_id == user_id, Account.kind == "allowance", Account.period < period,
            Account.closed_at.is_(None))))

    def _granted(self, user_id: int, period: str) -> int:
        total = self.s.scalar(
            select(func.coalesce(func.sum(Transfer.amount), 0)).where(
                Transfer.user_id == user_id,
                Transfer.kind == "grant",
                Transfer.key.like(f"allowance:{user_id}:{period}:%"),
            )
        )
        return int(total or 0)

    def _expire(self, account: Account, *, key: str) -> None:
        self.s.refresh(account)
        if account.balance > 0:
            self.transfer(key, account, self._system(EXPIRED), account.balance, kind="expire",
                          user_id=account.user_id,
                          memo=f"unused allowance for {account.period} expired")

    # -- operator grants --------------------------------------------------------------------

    def grant(self, user: User, amount: int, *, reason: str, key: str, kind: str = "grant"):
        purchased = self._purchased(user.id)
        self._lock([purchased.id])  # the user's account before the system's, as everywhere
        return self.transfer(key, self._system(ISSUANCE), purchased, amount,
                             kind=kind, user_id=user.id, memo=reason)

    def take_back(self, user_id: int, amount: int, *, reason: str, key: str,
                  kind: str = "reversal") -> int:
        """Return up to ``amount`` purchased credits to issuance (a refunded or disputed
        payment); never below zero: what was already spent stays spent. Returns how many
        were taken back (0 if ``key`` was applied before)."""
        purchased = self._purchased(user_id)
        self._lock([purchased.id])
        self.s.refresh(purchased)  # the balance as of our lock
        part = min(amount, purchased.balance)
        if part <= 0:
            return 0
        moved = self.transfer(key, purchased, self._system(ISSUANCE), part, kind=kind,
                              user_id=user_id, memo=reason)
        return part if moved else 0

    # -- job holds --------------------------------------------------------------------------

    def balance(self, user: User, *, lock_ids: list[int] | None = None) -> Balance:
        """The user's balance; ``lock_ids``: row-lock these accounts (the user's three, in id
        order) with the same statement that reads them (PostgreSQL; one round trip)."""
        now = self.clock()
        period = period_of(now)
        names = {"allowance": f"user:{user.id}:allowance:{period}",
                 "purchased": f"user:{user.id}:purchased", "held": f"user:{user.id}:held"}
        if lock_ids is not None and self.postgres:
            rows = self.s.connection().execute(_LOCKED_BALANCES, {"ids": sorted(lock_ids)})
        else:
            rows = self.s.connection().execute(_BALANCES, {"names": list(names.values())})
        found = dict(rows.all())
        return Balance(
            allowance=found.get(names["allowance"]) or 0,
            purchased=found.get(names["purchased"]) or 0,
            held=found.get(names["held"]) or 0,
            renews_on=next_period_start(now).date().isoformat(),
            monthly_allowance=self.monthly_grants.get(user.plan, 0),
        )

    def hold(self, user: User, job_id: str, amount: int) -> None:
        """Reserve ``amount`` for a job: this month's allowance first, then purchased."""
        if amount == 0:
            return
        period = period_of(self.clock())
        sources = [self._ref(f"user:{user.id}:allowance:{period}", kind="allowance",
                             user_id=user.id, period=period),
                   self._ref(f"user:{user.id}:purchased", kind="purchased", user_id=user.id)]
        held = self._ref(f"user:{user.id}:held", kind="held", user_id=user.id)
        # Read the balances only once their rows are ours: under READ COMMITTED a concurrent
        # hold could otherwise spend the allowance between our read and our debit.
        balance = self.balance(user, lock_ids=[account.id for account in (*sources, held)])
        if balance.available < amount:
            raise InsufficientCredits(needed=amount, available=balance.available,
                                      renews_on=balance.renews_on)
        remaining = amount
        parts: list[HoldPart] = []
        for source, left in zip(sources, (balance.allowance, balance.purchased), strict=True):
            part = min(left, remaining)
            if part <= 0:
                continue
            try:
                self.transfer(f"hold:{job_id}:{source.name}", source, held, part, kind="hold",
                              user_id=user.id, job_id=job_id, memo="reserved for job",
                              fresh=True)
            except Overdraft:
                # The database's conditional debit is the last line of defence (the rows are
                # locked, so this should not happen): refuse with the true balance.
                raise InsufficientCredits(needed=amount, available=self.balance(user).available,
                                          renews_on=balance.renews_on) from None
            remaining -= part
            parts.append(HoldPart(source.id, held.id, part))
        if remaining:
            raise InsufficientCredits(needed=amount, available=amount - remaining,
                                      renews_on=balance.renews_on)
        self._remember_holds(job_id, tuple(parts))

    def _remember_holds(self, job_id: str, parts: tuple[HoldPart, ...]) -> None:
        """Keep a job's holds in the process cache once this transaction has committed."""
        pending = self.s.info.get(_HOLDS_PENDING)
        if pending is None:
            pending = self.s.info[_HOLDS_PENDING] = {}
            cache = self.cache

            def committed(session: Session) -> None:
                with cache.lock:
                    cache.holds.update(session.info.pop(_HOLDS_PENDING, {}))
                    while len(cache.holds) > HOLDS_KEPT:
                        cache.holds.popitem(last=False)

            sa_event.listen(self.s, "after_commit", committed, once=True)
        pending[job_id] = parts

    def _refs(self, ids: set[int]) -> dict[int, AccountRef]:
        known = {i: self.cache.by_id[i] for i in ids if i in self.cache.by_id}
        missing = ids - known.keys()
        if missing:  # rows held by a committed hold: safe to remember
            for row in self.s.connection().execute(_REF_BY_ID, {"ids": sorted(missing)}):
                known[row.id] = AccountRef(row.id, row.name, row.kind, row.period)
                if row.name not in self.s.info.get(_CREATED, ()):
                    self._remember(known[row.id])
        return known

    def settle(self, job: Job, charge: int, reason: str, *, fresh: bool = False) -> None:
        """Close a job's hold: ``charge`` credits go to revenue, the rest back to where they
        came from. Captures take the allowance part first (it was spent first), so a partial
        refund returns purchased credits before free ones. Idempotent: settling again with
        the same charge is a no-op; with a different one it is refused. ``fresh``: the
        caller holds the job's row and just moved it out of running, so it cannot have been
        settled (the look-up is skipped; the transfer keys still refuse a second one)."""
        conn = self.s.connection()
        with self.cache.lock:
            holds = self.cache.holds.pop(job.id, None)  # held by this process: known
        if holds is None:
            holds = conn.execute(_HOLDS, {"j": job.id}).all()
        held_total = sum(h.amount for h in holds)
        if not 0 <= charge <= held_total:
            raise ValueError(f"cannot charge {charge} of a {held_total}-credit hold")
        if charge < held_total:
            # A refund moves credits back into the user's accounts: lock them all, in the
            # order a hold locks them. A whole capture touches only the held account, then
            # revenue, which every movement takes last: its own updates lock enough.
            self._lock(id_ for h in holds for id_ in (h.from_account_id, h.to_account_id))
        done = [] if fresh else conn.execute(_SETTLED, {"j": job.id}).all()
        if done:
            captured = sum(t.amount for t in done if t.kind == "capture")
            if captured != charge:
                raise ValueError(f"job {job.id} was already settled for {captured} credits")
            return
        now = self.clock()
        revenue = self._ref(REVENUE, kind="system")
        refs = self._refs({id_ for h in holds for id_ in (h.from_account_id, h.to_account_id)})
        to_charge = charge
        for hold in holds:
            held, source = refs[hold.to_account_id], refs[hold.from_account_id]
            part = min(hold.amount, to_charge)
            to_charge -= part
            if part:
                self.transfer(f"capture:{job.id}:{source.name}", held, revenue, part,
                              kind="capture", user_id=job.user_id, job_id=job.id,
                              memo=f"{job.model_id} × {job.n}" if part == hold.amount
                              else f"{job.model_id}: {reason}", fresh=True)
            refund = hold.amount - part
            if not refund:
                continue
            key = f"void:{job.id}:{source.name}"
            self.transfer(key, held, source, refund, kind="void", user_id=job.user_id,
                          job_id=job.id, memo=f"refund: {reason}", fresh=True)
            if source.kind == "allowance" and source.period != period_of(now):
                # The refund lands in a month that is over (closed, or closing at the user's
                # next visit): it expires like the rest of it.
                self._expire(self.s.get(Account, source.id), key=f"expire:{key}")

    def capture(self, job: Job) -> None:
        """Charge a finished job its whole hold."""
        self.settle(job, job.cost, "delivered")

    def void(self, job: Job, reason: str) -> None:
        """Refund a job's whole hold to where it came from."""
        self.settle(job, 0, reason)

    def statement(self, user: User, limit: int | None = None) -> list[dict]:
        accounts = {a.id: a for a in self.s.scalars(select(Account))}
        rows = self.s.scalars(
            select(Transfer).where(Transfer.user_id == user.id)
            .order_by(Transfer.id.desc()).limit(limit)
        ).all()
        out = []
        for t in rows:
            src, dst = accounts[t.from_account_id], accounts[t.to_account_id]
            out.append({
                "at": t.created_at.isoformat(timespec="seconds"),
                "kind": t.kind,
                "amount": t.amount,
                # Effect on what the user can spend: holds reduce it, voids restore it.
                "delta": _spendable(dst) * t.amount - _spendable(src) * t.amount,
                "from": src.name,
                "to": dst.name,
                "job_id": t.job_id,
                "memo": t.memo,
            })
        return out


def _spendable(account: Account) -> int:
    return 1 if account.kind in ("allowance", "purchased") else 0
