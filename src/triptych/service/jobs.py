"""Jobs: submit → run → settle. The one road every image takes.

``submit`` validates, checks safety, quotes and holds the cost in the same transaction that
creates the job (so a job never exists without its hold, nor a hold without its job).
``run_job`` claims the job atomically, calls the engine outside any transaction, stores the
images, then captures (success) or voids (any failure) in one transaction with the job's
final state. Executors (in-process threads or Celery workers) all call ``run_job``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Boolean,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from triptych.catalog.card import ModelCard
from triptych.catalog.loader import Catalog, UnknownModelError
from triptych.catalog.plans import PlanBook, load_plans
from triptych.db.auth_models import ApiKey
from triptych.db.models import Compare, Image, Job, User
from triptych.db.operator_models import ModelOverride
from triptych.engines import registry
from triptych.engines.base import Engine, EngineResult, GenerationRequest
from triptych.engines.errors import (
    EngineError,
    FatalError,
    InvalidRequestError,
    ModerationError,
    ProviderUnavailableError,
    StorageFailedError,
)
from triptych.errors import (
    IdempotencyConflict,
    InsufficientCredits,
    InvalidRequest,
    ModelUnavailable,
    NotFound,
    SpendCapReached,
    TooManyJobs,
)
from triptych.service import account_notices, metrics
from triptych.service.clock import Clock, next_period_start
from triptych.service.idempotency import check_key
from triptych.service.job_status import (
    CANCELED,
    FAILED,
    FINAL,
    IN_FLIGHT,
    QUEUED,
    RUNNING,
    SUCCEEDED,
)
from triptych.service.job_view import job_public
from triptych.service.lease import LeaseRenewer
from triptych.service.ledger import Ledger, LedgerCache
from triptych.service.live_catalog import LiveCatalog, override_rows
from triptych.service.pools import pool_of, repeatable
from triptych.service.progress import FINAL_JOB, ProgressEvent, ProgressHub
from triptych.service.provenance import encode_png
from triptych.service.requests import GenerationSpec, check_rights, quote
from triptych.service.safety import check_prompt
from triptych.service.store import ImageStore, StoreError
from triptych.settings import Settings

log = logging.getLogger("triptych.jobs")

LOST_MESSAGE = ("The worker running this job stopped. Nothing was charged; please submit it "
                "again.")

Progress = Callable[[float, Any], None]
PROGRESS_EVERY = 0.1  # seconds between two progress events published for one job
PREVIEW_EVERY = 0.5  # seconds between two previews
# A job running longer than CANCEL_CHECK_AFTER seconds looks for a cancel between engine
# steps, at most every CANCEL_CHECK_EVERY seconds (one primary-key read): a 30-step local
# model stops within a step; a sub-second built-in job never pays for the read.
CANCEL_CHECK_AFTER = 1.0
CANCEL_CHECK_EVERY = 0.5


class CanceledWhileRunning(Exception):
    """Raised from a running job's progress callback once its cancel is seen: engines let a
    callback's exception through, so the model stops between two steps."""


# The statements every job runs, built once (Core with bound parameters: a fraction of an
# ORM query's cost per call; see benchmarks/service_overhead.py).
_JOBS = Job.__table__
_LOCK_USER = (select(User.id, User.plan, User.unrestricted_opt_in, User.email_verified_at)
              .where(User.id == bindparam("u"))
              # NO KEY UPDATE: foreign-key checks of a settle's inserts pass it (PostgreSQL;
              # SQLite has no row locks and serialises writers with BEGIN IMMEDIATE)
              .with_for_update(key_share=True, of=User))
# A submit through an API key reads the key's monthly cap in the same round trip.
_LOCK_USER_WITH_CAP = _LOCK_USER.add_columns(
    select(ApiKey.monthly_cap).where(ApiKey.id == bindparam("k")).scalar_subquery()
    .label("key_cap"))
# Counted in a statement of its own, after the lock: under READ COMMITTED a new statement
# sees every submit that committed while we waited (a subquery of the locking one would not).
_IN_FLIGHT = select(func.count()).select_from(_JOBS).where(
    _JOBS.c.user_id == bindparam("u"), _JOBS.c.status.in_(IN_FLIGHT))
# The same count and, in the same statement (one round trip), the admins' price and on/off
# overrides of the requested models: the count row is the one without a model id.
_IN_FLIGHT_AND_OVERRIDES = union_all(
    select(func.count().label("in_flight"), cast(null(), ModelOverride.model_id.type)
           .label("model_id"), cast(null(), Integer).label("credits"),
           cast(null(), Boolean).label("enabled")).select_from(_JOBS).where(
        _JOBS.c.user_id == bindparam("u"), _JOBS.c.status.in_(IN_FLIGHT)),
    select(cast(null(), Integer), ModelOverride.model_id, ModelOverride.credits,
           ModelOverride.enabled).where(
        ModelOverride.model_id.in_(bindparam("ids", expanding=True))))
# What a key has spent this month: held by its jobs in flight, charged by its finished ones.
_KEY_SPENT = select(func.coalesce(func.sum(
    case((_JOBS.c.status.in_(IN_FLIGHT), _JOBS.c.cost), else_=_JOBS.c.charged)), 0)).where(
    _JOBS.c.api_key_id == bindparam("k"), _JOBS.c.created_at >= bindparam("since"))
_INSERT_JOB = insert(Job)
_INSERT_IMAGE = insert(Image)
_CLAIM = (update(_JOBS)
          .where(_JOBS.c.id == bindparam("j"), _JOBS.c.status == QUEUED,
                 _JOBS.c.cancel_requested.is_(False))
          .values(status=RUNNING, attempts=_JOBS.c.attempts + 1,
                  started_at=bindparam("now"), lease_until=bindparam("lease"))
          .returning(*_JOBS.c))
_LOCK_JOB = select(*_JOBS.c).where(_JOBS.c.id == bindparam("j")).with_for_update()


_FINISH = (update(_JOBS)
           .where(_JOBS.c.id == bindparam("j"), _JOBS.c.status == RUNNING,
                  _JOBS.c.attempts == bindparam("a"), _JOBS.c.cancel_requested.is_(False))
           .values(status=SUCCEEDED, finished_at=bindparam("finished"),
                   seconds=bindparam("secs"), model_version=bindparam("version"),
                   provider_cost=bindparam("pcost"), notes=bindparam("jnotes"),
                   charged=bindparam("jcharged"), lease_until=None,
                   steps=bindparam("jsteps"))
           .returning(*_JOBS.c))


@functools.cache
def _finish_with_images(columns: tuple[str, ...], count: int) -> Any:
    """PostgreSQL: ``_FINISH`` and the insert of the job's ``count`` images in one statement
    (one round trip instead of two). The images go in only if the job was finished by it;
    the statement answers the finished job, or no row."""
    finished = _FINISH.cte("finished")
    types = Image.__table__.c
    rows = [select(*(bindparam(f"img{i}_{name}", type_=types[name].type) for name in columns))
            .where(exists(select(finished.c.id))) for i in range(count)]
    added = (insert(Image).from_select(list(columns), union_all(*rows) if count > 1 else rows[0],
                                       include_defaults=False)
             .returning(Image.id).cte("added"))
    # A data-modifying WITH runs whether or not the main query reads it.
    return select(*finished.c).add_cte(added)


class JobRecord(SimpleNamespace):
    """A job row as plain attributes: what the hot paths hand back (an ORM instance costs
    more to build than the statement that produced it). ``images`` is set on a job that
    just succeeded; columns not given are None, as on a fresh row."""

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_BLANK_JOB, **values})


_BLANK_JOB = {column.key: None for column in _JOBS.c}


def new_id() -> str:
    return uuid.uuid4().hex


def request_hash(fingerprint: str) -> str:
    """What ``Job.request_hash`` (64 characters) keeps of a request's fingerprint: one spec's
    is already a sha256 digest; a compare's joined fingerprints are digested again."""
    if len(fingerprint) <= 64:
        return fingerprint
    return hashlib.sha256(fingerprint.encode()).hexdigest()


@dataclass
class JobContext:
    """Everything the job service needs; built once per process by ``Triptych``."""

    settings: Settings
    catalog: Catalog
    sessions: sessionmaker[Session]
    clock: Clock
    store: ImageStore
    hub: ProgressHub
    ledger_cache: LedgerCache = field(default_factory=LedgerCache)
    plans: PlanBook | None = None  # None: the built-in plans and TRIPTYCH_PLANS
    # Sessions for one-statement work (db.engine.autocommit_session_factory); None: sessions
    autocommit: sessionmaker[Session] | None = None

    def __post_init__(self) -> None:
        if self.plans is None:
            self.plans = plans_for(self.settings)
        if self.autocommit is None:
            self.autocommit = self.sessions

    def ledger(self, session: Session) -> Ledger:
        assert self.plans is not None
        return Ledger(session, self.clock, self.plans.monthly_grants(), self.ledger_cache,
                      require_verified=self.settings.verification_required)


def plans_for(settings: Settings) -> PlanBook:
    return load_plans(settings.plans, free_monthly=settings.free_monthly_credits,
                      pro_monthly=settings.pro_monthly_credits)


class EngineCache:
    """One engine per model per process: loading weights or HTTP pools once."""

    def __init__(self) -> None:
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def get(self, card: ModelCard, settings: Settings) -> Engine:
        with self._lock:
            engine = self._engines.get(card.id)
            if engine is None:
                engine = registry.create_engine(card, settings)
                self._engines[card.id] = engine
            return engine


class JobService:
    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.engines = EngineCache()
        self.leases = LeaseRenewer(self)
        # Built-in models loaded so far by warm_up, of how many (/readyz waits for all).
        self.warming: dict[str, int] = {"ready": 0, "of": 0}

    # -- lookups ----------------------------------------------------------------------------

    def card(self, model_id: str) -> ModelCard:
        try:
            return self.ctx.catalog.get(model_id)
        except UnknownModelError as exc:
            raise InvalidRequest(str(exc), field="model") from None

    def require_available(self, card: ModelCard, *, switch: bool = True) -> None:
        """Refuse a model that cannot run here. ``switch=False``: leave the admin's on/off
        switch to the submit's transaction, which reads it from the database."""
        if not switch:
            card = card.model_copy(update={"enabled": True})
        status = registry.availability(card, self.ctx.settings)
        if not status.available:
            raise ModelUnavailable(f"{card.name} is unavailable: {status.reason}",
                                   model=card.id, reason=status.reason)

    def get_job(self, session: Session, user: User, job_id: str) -> Job:
        """A job of this user's, else NotFound (another user's job is not found, not forbidden)."""
        job = session.get(Job, job_id)
        if job is None or job.user_id != user.id:
            raise NotFound(f"No job {job_id}.")
        return job

    # -- submit -----------------------------------------------------------------------------

    def submit(
        self,
        user_id: int,
        specs: list[GenerationSpec],
        *,
        idempotency_key: str | None = None,
        compare: Compare | None = None,
        parent_job_id: str | None = None,
        run_here: bool = False,
        api_key_id: str | None = None,
    ) -> list[Job | JobRecord]:
        """Create jobs and hold their whole cost in one transaction (all or nothing).

        ``run_here``: the caller runs the new jobs itself right away (``run_claimed``), so
        they are created already claimed, with their lease, in the same transaction.
        ``api_key_id``: the key that asked; its monthly spend cap is checked in the same
        transaction as the hold."""
        # An empty key is no key: stored, it would collide on the unique index with the next.
        idempotency_key = check_key(idempotency_key)
        cards = [self.card(spec.model_id) for spec in specs]
        for card, spec in zip(cards, specs, strict=True):
            check_prompt(spec.prompt, spec.content_mode)  # before anything is charged
            self.require_available(card, switch=False)
        fingerprint = "|".join(spec.fingerprint() for spec in specs)
        try:
            return self._submit(user_id, specs, cards, fingerprint, idempotency_key, compare,
                                parent_job_id, run_here, api_key_id)
        except IntegrityError:
            if not idempotency_key:
                raise
            # The same key raced us and the other submit won: answer with its jobs.
            with self.ctx.sessions.begin() as s:
                user = s.get(User, user_id)
                assert user is not None
                return self._by_idempotency(s, user, idempotency_key, fingerprint)

    def _submit(self, user_id: int, specs: list[GenerationSpec], cards: list[ModelCard],
                fingerprint: str, idempotency_key: str | None, compare: Compare | None,
                parent_job_id: str | None, run_here: bool = False,
                api_key_id: str | None = None) -> list[Job | JobRecord]:
        with self.ctx.sessions.begin() as s:
            # One submit per user at a time, across processes (PostgreSQL row lock; SQLite's
            # BEGIN IMMEDIATE already serialises writers): the in-flight count, the balance
            # read and the hold below then see every earlier submit of this user. NO KEY
            # UPDATE, as it does not block (nor deadlock with) the foreign-key checks of a
            # settle inserting this user's transfers.
            conn = s.connection()
            user = (conn.execute(_LOCK_USER_WITH_CAP, {"u": user_id, "k": api_key_id}).one()
                    if api_key_id else conn.execute(_LOCK_USER, {"u": user_id}).one())
            if idempotency_key:
                existing = self._by_idempotency(s, user, idempotency_key, fingerprint)
                if existing:
                    return existing
            live = isinstance(self.ctx.catalog, LiveCatalog)
            if live:
                rows = conn.execute(_IN_FLIGHT_AND_OVERRIDES, {
                    "u": user_id, "ids": sorted({card.id for card in cards})}).all()
                in_flight = next(row.in_flight for row in rows if row.model_id is None)
                overrides = override_rows(row for row in rows if row.model_id is not None)
            else:
                in_flight = conn.execute(_IN_FLIGHT, {"u": user_id}).scalar_one()
            if in_flight + len(specs) > self.ctx.settings.max_jobs_in_flight:
                raise TooManyJobs(
                    f"You have {in_flight} jobs in flight; the limit is "
                    f"{self.ctx.settings.max_jobs_in_flight}. Wait for one to finish.",
                    retry_after=5)
            plan = self.ctx.plans.get(user.plan)
            for spec in specs:
                check_rights(user, plan, spec)
            if live:
                cards = self._current(s, cards, overrides)
            ledger = self.ctx.ledger(s)
            ledger.ensure_allowance(user)
            total = sum(quote(card, spec.n) for card, spec in zip(cards, specs, strict=True))
            now = self.ctx.clock()
            if api_key_id:
                self._check_cap(conn, api_key_id, user.key_cap, total, now)
            if compare is not None:
                s.add(compare)
                s.flush()
            jobs: list[Job | JobRecord] = []
            held = 0
            for i, (card, spec) in enumerate(zip(cards, specs, strict=True)):
                values = dict(
                    id=new_id(), user_id=user.id, model_id=card.id, model_version=card.version,
                    prompt=spec.prompt, seed=spec.seed, width=spec.width, height=spec.height,
                    n=spec.n, steps=spec.steps, content_mode=spec.content_mode,
                    cost=quote(card, spec.n), charged=0, status=QUEUED,
                    priority=plan.priority,
                    # Only the first job carries the key: the unique index then guards the
                    # whole group, and the group is found again through it.
                    idempotency_key=idempotency_key if i == 0 else None,
                    request_hash=request_hash(fingerprint),
                    compare_id=compare.id if compare else None,
                    compare_index=i if compare else None,
                    parent_job_id=parent_job_id, api_key_id=api_key_id, attempts=0,
                    cancel_requested=False,
                    created_at=now, notes={"options": spec.options} if spec.options else {},
                )
                if run_here:  # claimed by this process, as claim() would
                    values.update(status=RUNNING, attempts=1, started_at=now,
                                  lease_until=now + timedelta(
                                      seconds=self.ctx.settings.job_lease_seconds))
                conn.execute(_INSERT_JOB, values)
                try:
                    ledger.hold(user, values["id"], values["cost"])
                except InsufficientCredits as exc:  # the whole request, not this one job
                    raise InsufficientCredits(
                        needed=total, available=exc.fields["available"] + held,
                        renews_on=exc.fields["renews_on"]) from None
                held += values["cost"]
                jobs.append(JobRecord(**values))  # what was inserted: nothing to reload
            return jobs

    def _current(self, s: Session, cards: list[ModelCard],
                 overrides: dict[str, Any]) -> list[ModelCard]:
        """The cards as the database says now (an admin's price and on/off switch), read
        under the submit's lock: what is held is never a stale price."""
        catalog = self.ctx.catalog
        assert isinstance(catalog, LiveCatalog)
        now = catalog.effective(s, [card.id for card in cards], overrides)
        for card in now.values():
            if not card.enabled:
                raise ModelUnavailable(
                    f"{card.name} is turned off by the administrator and takes no new jobs "
                    f"(jobs already running finish). Choose another model.",
                    model=card.id, reason="turned off by the administrator")
        return [now[card.id] for card in cards]

    def _check_cap(self, conn: Any, key_id: str, cap: int | None, needed: int,
                   now: Any) -> None:
        """Refuse what would take the key past its monthly ``cap``. Race-free: the caller
        holds the user's row lock (the key's owner), so this key's submits run one at a time."""
        if cap is None:
            return
        since = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        spent = conn.execute(_KEY_SPENT, {"k": key_id, "since": since}).scalar_one()
        if spent + needed > cap:
            raise SpendCapReached(cap=cap, spent=int(spent), needed=needed, key_id=key_id,
                                  resets_on=next_period_start(now).date().isoformat())

    def _by_idempotency(self, s: Session, user: User, key: str, fingerprint: str) -> list[Job]:
        first = s.scalar(select(Job).where(Job.user_id == user.id, Job.idempotency_key == key))
        if first is None:
            return []
        # An older SQLite install kept a compare's joined fingerprints whole (SQLite does not
        # enforce String(64)); either form of the same request matches.
        if first.request_hash not in (request_hash(fingerprint), fingerprint):
            raise IdempotencyConflict(
                "This Idempotency-Key was already used for a different request; use a new key.",
                field="Idempotency-Key")
        if first.compare_id:
            return list(s.scalars(select(Job).where(Job.compare_id == first.compare_id)
                                  .order_by(Job.compare_index)))
        return [first]

    # -- run --------------------------------------------------------------------------------

    def claim(self, job_id: str) -> JobRecord | None:
        """Atomically move a queued job to running; the job as claimed, or None if someone
        else has it or it is no longer queued. ``attempts`` after the claim is this run's
        token: only the run holding the current attempt may renew the lease or settle."""
        now = self.ctx.clock()
        lease = now + timedelta(seconds=self.ctx.settings.job_lease_seconds)
        with self.ctx.autocommit.begin() as s:  # one UPDATE … RETURNING: atomic alone
            row = s.connection().execute(_CLAIM, {"j": job_id, "now": now, "lease": lease}).first()
            return None if row is None else JobRecord(**row._mapping)

    def renew_lease(self, job_id: str, attempt: int) -> bool:
        """Extend a running job's lease; False if this attempt no longer owns the job."""
        lease = self.ctx.clock() + timedelta(seconds=self.ctx.settings.job_lease_seconds)
        with self.ctx.sessions.begin() as s:
            return s.execute(
                update(Job).where(Job.id == job_id, Job.status == RUNNING,
                                  Job.attempts == attempt)
                .values(lease_until=lease).execution_options(synchronize_session=False)
            ).rowcount == 1

    def run_job(self, job_id: str, progress: Progress | None = None) -> Job:
        """Run one queued job to a final state. Safe to call twice, or from two processes
        at once: the claim lets one run through, the other returns the job as it stands."""
        job = self.claim(job_id)
        if job is None:
            return self._finalise_if_canceled(job_id)
        return self.run_claimed(job, progress)

    def run_claimed(self, job: JobRecord, progress: Progress | None = None) -> Job | JobRecord:
        """Run a job this process has claimed (``claim``, or ``submit(run_here=True)``)."""
        job_id = job.id
        card = self.card(job.model_id)
        request = GenerationRequest(
            prompt=job.prompt, width=job.width, height=job.height, seed=job.seed, n=job.n,
            steps=job.steps, content_mode=job.content_mode, target=card.target,
            options=dict((job.notes or {}).get("options") or {}),
        )

        sent = {"event": float("-inf"), "preview": float("-inf")}
        cancel_check = {"at": time.monotonic() - CANCEL_CHECK_EVERY + CANCEL_CHECK_AFTER}

        def on_progress(fraction: float, preview: Any = None) -> None:
            if progress is not None:  # the caller's own callback sees every step
                progress(fraction, preview)
            if time.monotonic() - cancel_check["at"] >= CANCEL_CHECK_EVERY:
                cancel_check["at"] = time.monotonic()
                if self._cancel_requested(job_id):
                    raise CanceledWhileRunning(job_id)
            # Subscribers (possibly across processes) get at most PROGRESS_EVERY events and
            # PREVIEW_EVERY previews a second: a fast model steps far quicker than a person
            # can watch, and each event is encoded, published and streamed.
            now = time.monotonic()
            if now - sent["event"] < PROGRESS_EVERY:
                return
            sent["event"] = now
            if preview is not None and now - sent["preview"] < PREVIEW_EVERY:
                preview = None
            elif preview is not None:
                sent["preview"] = now
            self.ctx.hub.publish_progress(job_id, fraction, preview)

        def wants_preview() -> bool:
            # Subscribers get a picture only every PREVIEW_EVERY seconds; the caller's own
            # callback gets every one.
            return progress is not None or time.monotonic() - sent["preview"] >= PREVIEW_EVERY

        on_progress.wants_preview = wants_preview  # type: ignore[attr-defined]
        started = time.perf_counter()
        try:
            with self.leases.holding(job_id, job.attempts):
                engine = self.engines.get(card, self.ctx.settings)
                result = engine.generate(request, on_progress)
            if not result.images:
                raise FatalError(f"{card.name} returned no image.")
            del result.images[job.n:]  # never store (or charge for) more than was asked
        except CanceledWhileRunning:
            return self._canceled_while_running(job, time.perf_counter() - started)
        except EngineError as exc:
            return self._fail(job, exc, time.perf_counter() - started)
        except Exception as exc:  # an engine bug must not leave credits held
            log.exception("engine crashed on job %s", job_id)
            return self._fail(job, FatalError(f"{card.name} failed unexpectedly.",
                                              detail=repr(exc)), time.perf_counter() - started)
        seconds = time.perf_counter() - started
        return self._succeed(job, card, result, seconds)

    def to_warm(self, model_ids: list[str]) -> list[str]:
        """The models among these that warm_up would load: the built-in ones (unless
        warm-up is off) and those named in ``TRIPTYCH_RESIDENCY_PRELOAD``."""
        settings = self.ctx.settings
        preload = set(settings.preload_models)
        return [m for m in model_ids if m in preload
                or (settings.warm_up and pool_of(self.card(m)) == "builtin")]

    def warm_up(self, model_ids: list[str]) -> None:
        """Load built-in (and preloaded) models and make one throwaway image each, so the
        first user's job does not pay for reading weights and preparing the runtime.
        Nothing is stored or charged; a model that fails here fails its jobs later with the
        real error."""
        todo = self.to_warm(model_ids)
        self.warming = {"ready": 0, "of": len(todo)}
        for model_id in todo:
            card = self.card(model_id)
            started = time.perf_counter()
            try:
                engine = self.engines.get(card, self.ctx.settings)
                engine.generate(GenerationRequest(
                    prompt="warm up", width=card.default_width, height=card.default_height,
                    seed=0, n=1, steps=None, content_mode="standard", target=card.target))
                log.info("warmed up %s in %.1f s", model_id, time.perf_counter() - started)
            except Exception:
                log.warning("warming up %s failed", model_id, exc_info=True)
            self.warming = {"ready": self.warming["ready"] + 1, "of": len(todo)}

    def _record(self, job: Job, card: ModelCard, result: EngineResult, index: int,
                seconds: float, notes: dict[str, Any]) -> dict[str, Any]:
        return {
            "job_id": job.id, "index": index, "prompt": job.prompt, "model": card.id,
            "model_name": card.name, "model_version": result.model_version or card.version,
            "provider": card.provider, "family": card.family, "seed": job.seed + index,
            "base_seed": job.seed, "width": job.width, "height": job.height,
            "steps": result.steps if result.steps is not None else job.steps,
            "content_mode": job.content_mode, "credits": job.cost // job.n,  # as quoted
            "seconds": round(seconds, 3), "created_at": self.ctx.clock().isoformat(),
            "generator": "Triptych", **({"notes": notes} if notes else {}),
            **({"options": options} if (options := (job.notes or {}).get("options")) else {}),
        }

    def _succeed(self, detached: Job, card: ModelCard, result: EngineResult,
                 seconds: float) -> Job:
        job_id = detached.id
        files = []
        try:
            for index, item in enumerate(result.images):
                notes = {**result.notes, **item.notes}
                record = self._record(detached, card, result, index, seconds, notes)
                sha, path = self.ctx.store.put(encode_png(item.image, record))
                svg_path = self.ctx.store.put(item.svg, "svg")[1] if item.svg else None
                files.append((record, sha, path, svg_path, item.image.size))
        except StoreError as exc:
            # Nothing is committed yet: fail and refund now rather than leave the job running
            # with its credits held until recovery. Files already written are orphans the
            # sweeper collects (store_gc).
            return self._fail(detached, StorageFailedError(exc.message, detail=exc.detail),
                              seconds)
        now = self.ctx.clock()
        images = [
            {"id": new_id(), "job_id": job_id, "user_id": detached.user_id,
             "index": record["index"], "sha256": sha, "path": str(path),
             "svg_path": str(svg_path) if svg_path else None,
             "media_type": "image/svg+xml" if svg_path else "image/png",
             "width": w, "height": h, "record": record, "created_at": now, "deleted_at": None}
            for record, sha, path, svg_path, (w, h) in files]
        # A provider may block some images of a batch: charge only what was delivered.
        delivered = len(files)
        missing = detached.n - delivered
        notes = {**(detached.notes or {}), **result.notes,  # the job's own (options) stay
                 **({"delivered": f"{delivered} of {detached.n}"} if missing else {})}
        with self.ctx.sessions.begin() as s:
            conn = s.connection()
            # Finish the job only if this attempt still owns it and nobody cancelled it: the
            # check and the update are one statement (the row stays locked to the commit).
            row = self._finish(conn, {
                "j": job_id, "a": detached.attempts, "finished": now, "secs": seconds,
                "version": result.model_version or detached.model_version,
                "pcost": result.provider_cost, "jnotes": notes,
                "jcharged": detached.cost * delivered // detached.n,
                "jsteps": detached.steps or result.steps}, images)
            if row is None:
                current = conn.execute(_LOCK_JOB, {"j": job_id}).one()
                if (current.status == RUNNING and current.attempts == detached.attempts
                        and current.cancel_requested):  # cancelled while the engine ran
                    job = s.get(Job, job_id)
                    self._settle_void(s, self.ctx.ledger(s), job, CANCELED, "canceled",
                                      "Cancelled by you.")
                    return job
                return JobRecord(**current._mapping)  # settled, or taken by a later attempt
            job = JobRecord(**row._mapping, images=[SimpleNamespace(**i) for i in images])
            self.ctx.ledger(s).settle(job, job.charged, f"{missing} of {job.n} images not "
                                      "delivered" if missing else "delivered", fresh=True)
            if job.charged:
                account_notices.after_capture(s, self.ctx.settings, now, job.user_id)
        self.ctx.hub.publish(ProgressEvent(job_id, SUCCEEDED, 1.0,
                                           extra={FINAL_JOB: job_public(job, job.images)}))
        metrics.observe_job(job.model_id, SUCCEEDED,
                            (job.finished_at - job.created_at).total_seconds(), seconds)
        return job

    @staticmethod
    def _finish(conn: Any, params: dict[str, Any], images: list[dict[str, Any]]) -> Any:
        """Finish the job (``_FINISH``) and insert its images if it was finished: the
        finished row, or None. One round trip on PostgreSQL; two statements on SQLite (no
        data-modifying WITH there, and no round trips)."""
        if images and conn.dialect.name == "postgresql":
            columns = tuple(images[0])
            values = {f"img{i}_{name}": image[name] for i, image in enumerate(images)
                      for name in columns}
            return conn.execute(_finish_with_images(columns, len(images)),
                                {**params, **values}).first()
        row = conn.execute(_FINISH, params).first()
        if row is not None and images:
            conn.execute(_INSERT_IMAGE, images)
        return row

    def _fail(self, detached: Job, exc: EngineError, seconds: float) -> Job:
        job_id = detached.id
        if exc.detail:
            log.warning("job %s failed: %s (%s)", job_id, exc.message, exc.detail)
        message = exc.message
        if isinstance(exc, ModerationError):
            message = (f"{exc.message} The {exc.side} was blocked by the provider's safety "
                       f"system. Nothing was charged.")
        elif isinstance(exc, ProviderUnavailableError):
            prefix = "" if exc.message.lower().startswith("provider unavailable") else \
                "Provider unavailable: "
            message = f"{prefix}{exc.message} Nothing was charged; try another model."
        else:
            message = f"{exc.message} Nothing was charged."
        with self.ctx.sessions.begin() as s:
            job = s.get(Job, job_id, with_for_update=True)
            assert job is not None
            if job.status != RUNNING or job.attempts != detached.attempts:
                return job  # settled, or taken over by a later attempt: not ours to settle
            job.seconds = seconds
            job.error_field = exc.field if isinstance(exc, InvalidRequestError) else None
            job.error_side = exc.side if isinstance(exc, ModerationError) else None
            self._settle_void(s, self.ctx.ledger(s), job, FAILED, exc.code, message)
            return job

    def _cancel_requested(self, job_id: str) -> bool:
        with self.ctx.sessions() as s:
            return bool(s.scalar(select(Job.cancel_requested).where(Job.id == job_id)))

    def _canceled_while_running(self, detached: JobRecord, seconds: float) -> Job:
        """The engine stopped early for a cancel: refund, as when a cancel finds it done."""
        with self.ctx.sessions.begin() as s:
            job = s.get(Job, detached.id, with_for_update=True)
            assert job is not None
            if job.status == RUNNING and job.attempts == detached.attempts:
                job.seconds = seconds
                self._settle_void(s, self.ctx.ledger(s), job, CANCELED, "canceled",
                                  "Cancelled by you.")
            return job

    def _settle_void(self, s: Session, ledger: Ledger, job: Job, status: str, code: str,
                     message: str) -> None:
        job.status = status
        job.error_code = code
        job.error_message = message
        job.finished_at = self.ctx.clock()
        job.lease_until = None
        ledger.void(job, message)
        s.flush()
        event = ProgressEvent(job.id, status, 1.0,
                              extra={"error": message, FINAL_JOB: job_public(job, [])})
        total = (job.finished_at - job.created_at).total_seconds()
        model_id, seconds = job.model_id, job.seconds

        def announce(_session: Session) -> None:  # only what committed is announced
            metrics.observe_job(model_id, status, total, seconds)
            self.ctx.hub.publish(event)

        sa_event.listen(s, "after_commit", announce, once=True)

    def _finalise_if_canceled(self, job_id: str) -> Job:
        with self.ctx.sessions.begin() as s:
            job = s.get(Job, job_id, with_for_update=True)
            if job is None:
                raise NotFound(f"No job {job_id}.")
            if job.status == QUEUED and job.cancel_requested:
                self._settle_void(s, self.ctx.ledger(s), job, CANCELED, "canceled",
                                  "Cancelled by you.")
            return job

    # -- cancel and recovery ----------------------------------------------------------------

    def cancel(self, user_id: int, job_id: str) -> Job:
        """Cancel a job: a queued one is refunded now, a running one when its engine stops
        (between two steps, for engines that report progress) or returns."""
        with self.ctx.sessions.begin() as s:
            user = s.get(User, user_id)
            assert user is not None
            job = self.get_job(s, user, job_id)
            s.refresh(job, with_for_update=True)
            if job.status in FINAL:
                return job
            job.cancel_requested = True
            if job.status == QUEUED:
                self._settle_void(s, self.ctx.ledger(s), job, CANCELED, "canceled",
                                  "Cancelled by you.")
            return job

    def recover(self, *, hold_ttl: timedelta | None = None) -> dict[str, list[str]]:
        """Repair what stopped processes left behind. Never charges twice, never leaves holds;
        every change is conditional on the row, so two processes sweeping at once is safe.

        - running with a lapsed lease (its process died): back to queued while attempts
          remain and the model is local (``pools.repeatable``), else failed and refunded —
          a hosted provider may already be working on (and charging for) the first attempt;
        - queued and not started within ``hold_ttl`` (default: the queue deadline): failed
          and refunded.
        """
        now = self.ctx.clock()
        ttl = hold_ttl or timedelta(seconds=self.ctx.settings.queue_deadline_seconds)
        requeued: list[str] = []
        voided: list[str] = []
        with self.ctx.sessions.begin() as s:
            ledger = self.ctx.ledger(s)
            lost = s.scalars(select(Job).where(Job.status == RUNNING, Job.lease_until < now)
                             .with_for_update()).all()
            for job in lost:
                if (job.attempts < self.ctx.settings.max_attempts and not job.cancel_requested
                        and self._repeatable(job.model_id)):
                    job.status = QUEUED
                    job.lease_until = None
                    job.published_at = None  # publish it again
                    requeued.append(job.id)
                elif job.cancel_requested:
                    self._settle_void(s, ledger, job, CANCELED, "canceled",
                                      "Cancelled by you.")
                    voided.append(job.id)
                else:
                    self._settle_void(s, ledger, job, FAILED, "lost", LOST_MESSAGE)
                    voided.append(job.id)
            stale = s.scalars(select(Job).where(Job.status == QUEUED,
                                                Job.created_at < now - ttl)
                              .with_for_update()).all()
            for job in stale:
                if job.id in requeued:
                    continue
                self._settle_void(s, ledger, job, FAILED, "expired",
                                  "This job waited too long to run and expired. Nothing was "
                                  "charged; please submit it again.")
                voided.append(job.id)
        return {"requeued": requeued, "voided": voided}

    def _repeatable(self, model_id: str) -> bool:
        try:
            return repeatable(self.ctx.catalog.get(model_id))
        except UnknownModelError:
            return False

    def take_unpublished(self, older_than: float,
                         limit: int = 500) -> list[tuple[str, int, str]]:
        """Queued jobs nobody has handed to a runner for ``older_than`` seconds (a server
        died between commit and publish, or held them in its memory queue): marks them
        published now and returns ``(id, priority, model id)``; two processes never take
        the same one in the same interval."""
        now = self.ctx.clock()
        cutoff = now - timedelta(seconds=older_than)
        with self.ctx.sessions.begin() as s:
            rows = s.execute(
                select(Job.id, Job.priority, Job.model_id, Job.published_at).where(
                    Job.status == QUEUED, Job.cancel_requested.is_(False),
                    or_(Job.published_at < cutoff,
                        and_(Job.published_at.is_(None), Job.created_at < cutoff)))
                .order_by(Job.priority, Job.created_at).limit(limit)
            ).all()
            taken = []
            for job_id, priority, model_id, published_at in rows:
                won = s.execute(
                    update(Job).where(Job.id == job_id, Job.status == QUEUED,
                                      Job.published_at.is_(None) if published_at is None
                                      else Job.published_at == published_at)
                    .values(published_at=now).execution_options(synchronize_session=False)
                ).rowcount
                if won == 1:
                    taken.append((job_id, priority, model_id))
            return taken
