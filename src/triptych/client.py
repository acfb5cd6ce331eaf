"""``Triptych``: the Python API, and the one facade every interface (CLI, HTTP, web) uses.

    from triptych import Triptych
    tp = Triptych()                      # embedded default: SQLite under ~/.triptych
    out = tp.generate("two cats on a blue background")
    print(out.paths, out.cost, out.seconds)

Every verb goes through the job service, so credits, safety, storage and history always
apply. ``Triptych(user="alice@example.com")`` acts as another account; ``as_user`` shares
the database and engines.
"""

from __future__ import annotations

import hashlib
import io
import logging
import queue
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from sqlalchemy import bindparam, or_, select

from triptych.catalog.card import TIER_ORDER, ModelCard
from triptych.catalog.loader import Catalog, load_catalog
from triptych.catalog.plans import Plan, PlanBook
from triptych.db.engine import (
    autocommit_session_factory,
    make_engine,
    migrate,
    session_factory,
)
from triptych.db.models import Compare, Image, Job, User
from triptych.engines import registry
from triptych.engines.registry import options_for
from triptych.errors import (
    InvalidRequest,
    JobFailed,
    ModelUnavailable,
    ModerationBlocked,
    NotFound,
)
from triptych.private_files import private_dir
from triptych.service import audit, ledger_verify, upgrade
from triptych.service import picks as picks_mod
from triptych.service import recommend as recommend_mod
from triptych.service.account_email import AccountEmail
from triptych.service.accounts import Accounts
from triptych.service.admin import Admin
from triptych.service.audit import Actor
from triptych.service.clock import Clock, utc_now
from triptych.service.deployment_status import deployment_status
from triptych.service.gallery import GalleryFilter, list_images
from triptych.service.job_status import FINAL, QUEUED, SUCCEEDED
from triptych.service.job_view import image_public, job_public
from triptych.service.jobs import JobContext, JobRecord, JobService, Progress, new_id
from triptych.service.live_catalog import LiveCatalog
from triptych.service.metrics import DatabaseCollector
from triptych.service.model_vocabulary import closed_vocabulary
from triptych.service.payments.checkout import Payments
from triptych.service.plan_changes import change_plan
from triptych.service.progress import ProgressEvent, make_hub
from triptych.service.requests import check_size, parse_size, resolve
from triptych.service.sheet import SheetEntry, compose_sheet
from triptych.service.store import ObjectMissing, StoreError, local_path, make_store
from triptych.service.store_gc import UNCOMMITTED_GRACE, location_in_use
from triptych.service.users import get_or_create_user, get_user
from triptych.settings import Settings

log = logging.getLogger("triptych.client")


@dataclass
class Generation:
    job: dict[str, Any]
    images: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return self.job["id"]

    @property
    def locations(self) -> list[str]:
        """Where each image is stored: a file path, or ``s3://bucket/key``."""
        return [i["path"] for i in self.images]

    @property
    def paths(self) -> list[Path]:
        """Each image's file, when the store is a local directory."""
        return [_as_path(location) for location in self.locations]

    @property
    def cost(self) -> int:
        return self.job["cost"]

    @property
    def seconds(self) -> float | None:
        return self.job["seconds"]


@dataclass
class Comparison:
    id: str
    prompt: str
    seed: int
    results: list[Generation]
    sheet_location: str | None
    total_cost: int
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sheet_path(self) -> Path | None:
        """The sheet's file, when the store is a local directory."""
        return _as_path(self.sheet_location) if self.sheet_location else None


def _as_path(location: str) -> Path:
    path = local_path(location)
    if path is None:
        raise ValueError(f"{location} is in object storage, not a local file: read it with "
                         f"Triptych.image_bytes() or Triptych.sheet_bytes().")
    return path


def raise_for_failure(job: dict[str, Any]) -> None:
    """Turn a failed or cancelled job into the error that says why (its refund is done)."""
    if job["status"] == SUCCEEDED:
        return
    error = job["error"] or {"code": job["status"], "message": f"The job was {job['status']}."}
    if error["code"] == "moderation_blocked":
        raise ModerationBlocked(error["message"], side=error.get("side") or "output",
                                job_id=job["id"])
    if error["code"] == "invalid_request":
        raise InvalidRequest(error["message"], field=error.get("field"), job_id=job["id"])
    raise JobFailed(error["message"], job_id=job["id"], reason=error["code"],
                    field=error.get("field"))


# Read on every submit and every job look-up: Core statements built once.
_JOB_BY_ID = select(*Job.__table__.c).where(Job.id == bindparam("j"))
_LIVE_IMAGES = (select(*Image.__table__.c)
                .where(Image.job_id == bindparam("j"), Image.deleted_at.is_(None))
                .order_by(Image.index))


class Triptych:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        user: str | None = None,
        clock: Clock | None = None,
        catalog: Catalog | None = None,
        db_schema: str | None = None,
        _shared: tuple[JobContext, JobService] | None = None,
    ) -> None:
        if _shared is not None:
            self.ctx, self.jobs = _shared
        else:
            settings = settings or Settings()
            private_dir(settings.home)
            engine = make_engine(settings.resolved_database_url, pg_schema=db_schema,
                                 sqlite_busy_seconds=settings.sqlite_busy_seconds)
            migrate(engine)
            self.db = engine
            base = catalog or load_catalog(extra=settings.catalog_files,
                                           engine_check=registry.binding_problem)
            self.ctx = JobContext(
                settings=settings,
                catalog=LiveCatalog(base, engine, settings.catalog_refresh_seconds),
                sessions=session_factory(engine),
                autocommit=autocommit_session_factory(engine),
                clock=clock or utc_now,
                store=make_store(settings), hub=make_hub(settings),
            )
            self.jobs = JobService(self.ctx)
            self.jobs.recover()  # settle what a crashed process left behind
        self.settings = self.ctx.settings
        self.catalog = self.ctx.catalog
        self.user_email = user or self.settings.local_user
        self._user_id: int | None = None
        self.api_key_id: str | None = None  # the API key acting (its spend cap applies)
        # Users, sessions, keys, statements: what the web UI and CLI need of accounts.
        self.accounts = Accounts(self.ctx)
        self.admin = Admin(self.ctx)  # catalog changes, accounts, usage, the audit log
        # Sign-up by verification link, address confirmation, password reset.
        self.account_email = AccountEmail(self.ctx)
        # Credit packs and paid plans through Stripe (off without its keys).
        self.payments = Payments(self.ctx)

    def as_user(self, email: str, *, user_id: int | None = None,
                api_key_id: str | None = None) -> Triptych:
        """The same database and engines, acting as another account. Pass ``user_id`` when the
        caller has already authenticated it (skips the get-or-create round trip), and
        ``api_key_id`` when it came with an API key (the key's spend cap applies)."""
        other = Triptych(user=email, _shared=(self.ctx, self.jobs))
        other._user_id = user_id
        other.api_key_id = api_key_id
        return other

    def warm_up_recommender(self) -> None:
        """Start loading the recommender's sentence model (in the background) rather than on
        the first prompt; /readyz says "not ready" until it has loaded."""
        recommend_mod.warm_up_in_background()

    def deployment_status(self) -> dict[str, Any]:
        """Workers, queues and jobs by state, as ``triptych status`` shows them."""
        return deployment_status(self.ctx)

    def database_metrics(self) -> DatabaseCollector:
        """Prometheus series read from the database (jobs, queues, credits)."""
        return DatabaseCollector(self.ctx.sessions, self.catalog, self.ctx.clock)

    def subscribe(self, job_id: str, into: queue.Queue[ProgressEvent] | None = None
                  ) -> queue.Queue[ProgressEvent]:
        """Push delivery of a job's progress events, from this process or any worker, into a
        queue (``into``: one that wakes its reader on put). The caller has checked the job
        is the user's, and calls ``unsubscribe`` when done."""
        return self.ctx.hub.subscribe(job_id, into)

    def unsubscribe(self, job_id: str, q: queue.Queue[ProgressEvent]) -> None:
        self.ctx.hub.unsubscribe(job_id, q)

    def _seed_for(self, seed: int | None, idempotency_key: str | None) -> int | None:
        """With an idempotency key and no seed, derive the seed from the key: a retried
        request must resolve to the same request, and a random seed never would."""
        if seed is not None or not idempotency_key:
            return seed
        digest = hashlib.sha256(f"{self.user_id}:{idempotency_key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % 2**31

    # -- accounts ---------------------------------------------------------------------------

    @property
    def user_id(self) -> int:
        if self._user_id is None:
            with self.ctx.sessions.begin() as s:
                user = get_or_create_user(s, self.user_email, self.ctx.clock)
                s.flush()
                self.ctx.ledger(s).ensure_allowance(user)
                self._user_id = user.id
        return self._user_id

    def _user(self, s) -> User:
        user = s.get(User, self.user_id)
        assert user is not None
        return user

    # -- catalog ----------------------------------------------------------------------------

    def availability(self, card: ModelCard) -> tuple[bool, str]:
        status = registry.availability(card, self.settings)
        return status.available, status.reason

    def models(self, *, tier: str | None = None, capability: str | None = None,
               available: bool | None = None) -> list[dict[str, Any]]:
        out = []
        for card in self.catalog:
            ok, reason = self.availability(card)
            if tier and card.tier != tier:
                continue
            if capability and capability not in card.capabilities:
                continue
            if available is not None and ok != available:
                continue
            out.append({**card.model_dump(), "available": ok, "unavailable_reason": reason,
                        "options": {name: spec.public()
                                    for name, spec in options_for(card).items()}})
        return sorted(out, key=lambda m: (TIER_ORDER[m["tier"]], m["credits"]))

    def default_model(self) -> str:
        """The cheapest instant built-in model; failing that, the cheapest model that runs."""
        usable = [c for c in self.catalog if self.availability(c)[0]]
        for pool in ([c for c in usable if c.builtin and c.tier == "instant"],
                     [c for c in usable if c.tier == "instant"], usable):
            if pool:
                return min(pool, key=lambda c: (c.credits, c.tier_rank)).id
        raise ModelUnavailable(
            "No model can run here yet: train the built-in models (`triptych train …`) or set "
            "a provider key such as TRIPTYCH_BFL_API_KEY.")

    # -- quote and generate -----------------------------------------------------------------

    def _spec(self, model: str | None, prompt: str, **kwargs: Any):
        card = self.jobs.card(model or self.default_model())
        return card, resolve(card, prompt=prompt, **kwargs)

    def quote(self, prompt: str = "quote", model: str | None = None, *, n: int = 1,
              size: str | None = None, models: list[str] | None = None) -> dict[str, Any]:
        """What a request would cost, and whether the balance covers it. Charges nothing."""
        lines = []
        credits = self.credits(statement=False)
        plan = self.ctx.plans.get(credits["plan"])
        for model_id in models or [model or self.default_model()]:
            card = self.jobs.card(model_id)
            width, height = parse_size(size) or (card.default_width, card.default_height)
            check_size(plan, width, height)  # refused here, before anything is held
            ok, reason = self.availability(card)
            lines.append({"model": card.id, "name": card.name, "credits_per_image": card.credits,
                          "n": n, "credits": card.credits * n, "tier": card.tier,
                          "available": ok, "unavailable_reason": reason})
        total = sum(line["credits"] for line in lines)
        return {"lines": lines, "total": total, "available": credits["available"],
                "affordable": credits["available"] >= total, "renews_on": credits["renews_on"]}

    def submit(self, prompt: str, model: str | None = None, *, seed: int | None = None,
               size: str | None = None, n: int = 1, steps: int | None = None,
               content_mode: str = "standard", idempotency_key: str | None = None,
               parent_job_id: str | None = None,
               options: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate, quote and hold; the job is queued (run it with ``run``)."""
        job = self._submit_one(prompt, model, seed=seed, size=size, n=n, steps=steps,
                               content_mode=content_mode, idempotency_key=idempotency_key,
                               parent_job_id=parent_job_id, options=options)
        if isinstance(job, JobRecord):  # just created: what was inserted, nothing to reload
            return job_public(job, [])
        return self.job(job.id)  # an idempotent replay: the job as it stands

    def _submit_one(self, prompt: str, model: str | None, *, seed: int | None,
                    idempotency_key: str | None, parent_job_id: str | None,
                    run_here: bool = False, **kwargs: Any) -> Job | JobRecord:
        seed = self._seed_for(seed, idempotency_key)
        _, spec = self._spec(model, prompt, seed=seed, **kwargs)
        [job] = self.jobs.submit(self.user_id, [spec], idempotency_key=idempotency_key,
                                 parent_job_id=parent_job_id, run_here=run_here,
                                 api_key_id=self.api_key_id)
        return job

    def run(self, job_id: str, progress: Progress | None = None) -> dict[str, Any]:
        self.job(job_id)  # owner check
        self.jobs.run_job(job_id, progress)
        return self.job(job_id)

    def generate(self, prompt: str, model: str | None = None, *, seed: int | None = None,
                 size: str | None = None, n: int = 1, steps: int | None = None,
                 content_mode: str = "standard", idempotency_key: str | None = None,
                 progress: Progress | None = None, parent_job_id: str | None = None,
                 options: dict[str, Any] | None = None) -> Generation:
        """Make images now. ``options``: the model's request options (``/v1/models`` lists
        them per model, e.g. ``{"guidance": 6}``)."""
        job = self._submit_one(prompt, model, seed=seed, size=size, n=n, steps=steps,
                               content_mode=content_mode, idempotency_key=idempotency_key,
                               parent_job_id=parent_job_id, run_here=True, options=options)
        if not isinstance(job, JobRecord):  # an idempotent replay: as it stands
            if job.status == QUEUED:  # left queued (its runner stopped): run it now
                self.jobs.run_job(job.id, progress)
            return self._outcome(self.job(job.id))
        ran = self.jobs.run_claimed(job, progress)  # created claimed: ours to run now
        images = getattr(ran, "images", None)  # set when it has just succeeded here
        return self._outcome(job_public(ran, images) if images is not None
                             else self.job(job.id))

    def _outcome(self, job: dict[str, Any]) -> Generation:
        raise_for_failure(job)
        return Generation(job=job, images=job["images"])

    def submit_rerender(self, job_id: str, model: str, *, size: str | None = None,
                        seed: int | None = None) -> dict[str, Any]:
        """Queue a stored generation's prompt and seed on another model (draft → final).

        The size carries over when the new model supports it, else the new model's default
        scaled to the same aspect ratio (a 64 px draft re-rendered on a 1 MP model keeps its
        shape, not its pixels)."""
        source = self.job(job_id)
        card = self.jobs.card(model)
        if size is None:
            w, h = source["width"], source["height"]
            fits = card.min_width <= w <= card.max_width and card.min_height <= h <= card.max_height
            if not fits:
                scale = card.default_width / max(w, h)
                w = max(card.min_width, min(card.max_width, round(w * scale / 8) * 8))
                h = max(card.min_height, min(card.max_height, round(h * scale / 8) * 8))
            size = f"{w}x{h}"
        takes = options_for(card)  # the source's options that the new model takes too
        options = {k: v for k, v in source["options"].items() if k in takes}
        return self.submit(source["prompt"], model,
                           seed=source["seed"] if seed is None else seed, size=size, n=1,
                           content_mode=source["content_mode"], parent_job_id=job_id,
                           options=options)

    def submit_variation(self, job_id: str) -> dict[str, Any]:
        """Queue one more image of a stored generation: same prompt, model, size and mode, a
        new random seed (the "vary" button)."""
        source = self.job(job_id)
        return self.submit(source["prompt"], source["model"], size=source["size"], n=1,
                           steps=source["steps"], content_mode=source["content_mode"],
                           parent_job_id=job_id, options=source["options"])

    def rerender_choices(self, job_id: str) -> dict[str, Any]:
        """The models to render a job on next, better tiers first (``service.upgrade``)."""
        source = self.job(job_id)
        cards = list(self.catalog)
        availability = {c.id: self.availability(c) for c in cards}
        return upgrade.rerender_choices(self.jobs.card(source["model"]), cards, availability,
                                        source["prompt"])

    def rerender(self, job_id: str, model: str, *, size: str | None = None,
                 progress: Progress | None = None) -> Generation:
        job = self.submit_rerender(job_id, model, size=size)
        self.jobs.run_job(job["id"], progress)
        return self._outcome(self.job(job["id"]))

    def cancel(self, job_id: str) -> dict[str, Any]:
        self.jobs.cancel(self.user_id, job_id)
        return self.job(job_id)

    # -- compare ----------------------------------------------------------------------------

    def compare(self, prompt: str, models: list[str], *, seed: int | None = None,
                size: str | None = None, progress: Progress | None = None,
                idempotency_key: str | None = None) -> Comparison:
        submitted = self.submit_compare(prompt, models, seed=seed, size=size,
                                        idempotency_key=idempotency_key)
        for job in submitted["jobs"]:
            if job["status"] == QUEUED:
                self.jobs.run_job(job["id"], progress)
        return self.finish_compare(submitted["id"])

    def submit_compare(self, prompt: str, models: list[str], *, seed: int | None = None,
                       size: str | None = None,
                       idempotency_key: str | None = None) -> dict[str, Any]:
        """Quote and hold the whole comparison up front, in one transaction."""
        if not 2 <= len(models) <= 4:
            raise InvalidRequest("Compare two to four models.", field="models")
        if len(set(models)) != len(models):
            raise InvalidRequest("Each model may appear once in a comparison.", field="models")
        seed = self._seed_for(seed, idempotency_key)
        seed = seed if seed is not None else secrets.randbelow(2**31)
        specs = [self._spec(m, prompt, seed=seed, size=size)[1] for m in models]
        compare = Compare(id=new_id(), user_id=self.user_id, prompt=specs[0].prompt, seed=seed,
                          created_at=self.ctx.clock())
        jobs = self.jobs.submit(self.user_id, specs, compare=compare,
                                idempotency_key=idempotency_key, api_key_id=self.api_key_id)
        compare_id = jobs[0].compare_id
        return {"id": compare_id, "prompt": specs[0].prompt, "seed": seed,
                "total_cost": sum(j.cost for j in jobs), "jobs": [self.job(j.id) for j in jobs]}

    def _compare_row(self, compare_id: str) -> tuple[Compare, list[str]]:
        user_id = self.user_id  # first: on SQLite a nested transaction would wait on this one
        with self.ctx.sessions.begin() as s:
            compare = s.get(Compare, compare_id)
            if compare is None or compare.user_id != user_id:
                raise NotFound(f"No comparison {compare_id}.")
            job_ids = list(s.scalars(select(Job.id).where(Job.compare_id == compare_id)
                                     .order_by(Job.compare_index)))
            s.expunge(compare)
            return compare, job_ids

    def compare_status(self, compare_id: str) -> dict[str, Any]:
        """A comparison as it stands; composes the sheet once every model has finished."""
        compare, job_ids = self._compare_row(compare_id)
        jobs = [self.job(j) for j in job_ids]
        done = all(j["status"] in FINAL for j in jobs)
        sheet = compare.sheet_path
        if done and sheet is None and any(j["status"] == SUCCEEDED for j in jobs):
            sheet = self.finish_compare(compare_id).sheet_location
        return {"id": compare.id, "prompt": compare.prompt, "seed": compare.seed,
                "status": "done" if done else "running",
                "total_cost": sum(j["cost"] for j in jobs),
                "total_charged": sum(j["charged"] for j in jobs),
                "keeper_job_id": compare.keeper_job_id,
                "sheet_path": str(sheet) if sheet else None, "jobs": jobs}

    def set_keeper(self, compare_id: str, job_id: str) -> dict[str, Any]:
        """Mark the result to keep (then re-render it on a premium model)."""
        _, job_ids = self._compare_row(compare_id)
        if job_id not in job_ids:
            raise InvalidRequest("That job is not part of this comparison.", field="job_id")
        with self.ctx.sessions.begin() as s:
            s.get(Compare, compare_id).keeper_job_id = job_id
        return self.compare_status(compare_id)

    def finish_compare(self, compare_id: str) -> Comparison:
        """Compose (or re-compose) the labelled side-by-side sheet of a comparison."""
        _, job_ids = self._compare_row(compare_id)
        jobs = [self.job(j) for j in job_ids]
        entries, results, failures = [], [], []
        for job in jobs:
            card = self.catalog.get(job["model"])
            if job["status"] == SUCCEEDED and job["images"]:
                data = self.ctx.store.read(job["images"][0]["path"])
                image = PILImage.open(io.BytesIO(data))
                entries.append(SheetEntry(card.name, job["charged"], job["seconds"], image))
                results.append(Generation(job=job, images=job["images"]))
            else:
                note = (job["error"] or {}).get("message") or job["status"]
                entries.append(SheetEntry(card.name, 0, job["seconds"], None, note))
                failures.append(job)
        sheet = None
        if any(e.image is not None for e in entries):
            buffer = io.BytesIO()
            compose_sheet(jobs[0]["prompt"], entries).save(buffer, format="PNG")
            sheet = self.ctx.store.put(buffer.getvalue())[1]
            with self.ctx.sessions.begin() as s:
                s.get(Compare, compare_id).sheet_path = sheet
        return Comparison(id=compare_id, prompt=jobs[0]["prompt"], seed=jobs[0]["seed"],
                          results=results, sheet_location=sheet,
                          total_cost=sum(j["charged"] for j in jobs), failures=failures)

    # -- recommend --------------------------------------------------------------------------

    def recommend(self, prompt: str, *, budget: int | None = None, speed: str = "any",
                  include_unavailable: bool = False, limit: int = 5) -> dict[str, Any]:
        if not prompt or not prompt.strip():
            raise InvalidRequest("The prompt is empty.", field="prompt")
        if speed not in recommend_mod.SPEEDS:
            raise InvalidRequest(f"Speed must be one of {', '.join(recommend_mod.SPEEDS)}.",
                                 field="speed")
        cards = list(self.catalog)
        availability = {c.id: self.availability(c) for c in cards}
        intents, recs = recommend_mod.recommend(
            prompt, cards, availability, budget=budget, speed=speed,
            include_unavailable=include_unavailable, limit=limit,
            vocabularies={c.id: closed_vocabulary(c) for c in cards},
            picks=picks_mod.win_table(self.ctx.sessions, self.user_id).records())
        return {
            "prompt": prompt,
            "intents": [vars(i) for i in intents if i.score > 0],
            "recommendations": [vars(r) for r in recs],
        }

    # -- picks ------------------------------------------------------------------------------

    def pick(self, compare_id: str, job_id: str, *, blind: bool = False,
             shown: list[str] | None = None) -> dict[str, Any]:
        """Store the image chosen on a comparison (replacing an earlier pick); ``shown``: the
        job ids in the order they were shown."""
        compare, _ = self._compare_row(compare_id)  # owner check before detecting the kind
        kind = recommend_mod.prompt_kind(compare.prompt)
        return picks_mod.save_pick(self.ctx.sessions, self.ctx.clock(), user_id=self.user_id,
                                   compare_id=compare_id, job_id=job_id, prompt_kind=kind,
                                   blind=blind, shown_jobs=shown)

    def current_pick(self, compare_id: str) -> dict[str, Any] | None:
        return picks_mod.pick_for(self.ctx.sessions, self.user_id, compare_id)

    def win_rates(self) -> picks_mod.WinTable:
        """The user's picks added up: wins and times shown per model and kind of prompt."""
        return picks_mod.win_table(self.ctx.sessions, self.user_id)

    # -- history ----------------------------------------------------------------------------

    def job(self, job_id: str) -> dict[str, Any]:
        user_id = self.user_id
        with self.ctx.autocommit.begin() as s:  # the images are committed with the final status
            conn = s.connection()
            row = conn.execute(_JOB_BY_ID, {"j": job_id}).first()
            if row is None or row.user_id != user_id:  # another user's job is not found
                raise NotFound(f"No job {job_id}.")
            # Only a job that succeeded has images: the others cost one statement, not two.
            images = ([Image(**i._mapping) for i in conn.execute(_LIVE_IMAGES, {"j": job_id})]
                      if row.status == SUCCEEDED else [])
            return job_public(Job(**row._mapping), images)

    show = job

    def history(self, query: str | None = None, *, model: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                status: str | None = None, limit: int = 50,
                offset: int = 0) -> list[dict[str, Any]]:
        with self.ctx.sessions.begin() as s:
            stmt = select(Job).where(Job.user_id == self.user_id)
            if query:
                terms = [t for t in query.split() if t]
                for term in terms:
                    stmt = stmt.where(Job.prompt.ilike(f"%{term}%"))
            if model:
                stmt = stmt.where(or_(Job.model_id == model))
            if since:
                stmt = stmt.where(Job.created_at >= since)
            if until:
                stmt = stmt.where(Job.created_at < until)
            if status:
                stmt = stmt.where(Job.status == status)
            jobs = s.scalars(stmt.order_by(Job.created_at.desc(), Job.id.desc())
                             .limit(limit).offset(offset)).all()
            out = []
            for job in jobs:
                images = s.scalars(select(Image).where(Image.job_id == job.id,
                                                       Image.deleted_at.is_(None))
                                   .order_by(Image.index)).all()
                out.append(job_public(job, list(images)))
            return out

    def gallery(self, where: GalleryFilter | None = None, *, limit: int = 48,
                offset: int = 0) -> list[dict[str, Any]]:
        """Your live images, one row per image, newest job first (``service.gallery``)."""
        user_id = self.user_id
        with self.ctx.sessions.begin() as s:
            return list_images(s, user_id, where or GalleryFilter(), limit=limit, offset=offset)

    def set_favourite(self, image_id: str, favourite: bool) -> dict[str, Any]:
        """Star or unstar one of your images; starring again keeps the first time."""
        user_id = self.user_id
        with self.ctx.sessions.begin() as s:
            image = s.get(Image, image_id, with_for_update=True)
            if image is None or image.user_id != user_id or image.deleted_at is not None:
                raise NotFound(f"No image {image_id}.")
            if not favourite:
                image.favourite_at = None
            elif image.favourite_at is None:
                image.favourite_at = self.ctx.clock()
            s.flush()
            return image_public(image)

    def image(self, image_id: str) -> dict[str, Any]:
        user_id = self.user_id  # first: on SQLite a nested transaction would wait on this one
        with self.ctx.sessions.begin() as s:
            image = s.get(Image, image_id)
            if image is None or image.user_id != user_id or image.deleted_at is not None:
                raise NotFound(f"No image {image_id}.")
            return image_public(image)

    def image_bytes(self, image_id: str, *, svg: bool = False) -> bytes:
        """One of your images as stored: the PNG (generation record embedded) or its SVG."""
        image = self.image(image_id)
        location = image["svg_path"] if svg else image["path"]
        if location is None:
            raise NotFound("This image has no SVG version.")
        return self._stored(location, f"The file of image {image_id} is gone.")

    def sheet_bytes(self, compare_id: str) -> bytes:
        """A comparison's side-by-side sheet (composed once every model has finished)."""
        location = self.compare_status(compare_id)["sheet_path"]
        if location is None:
            raise NotFound("This comparison has no sheet yet.")
        return self._stored(location, f"The sheet of comparison {compare_id} is gone.")

    def _stored(self, location: str, gone: str) -> bytes:
        try:
            return self.ctx.store.read(location)
        except ObjectMissing:
            raise NotFound(gone) from None

    def delete_image(self, image_id: str) -> None:
        """Remove an image from the user's gallery (the job and its ledger entries stay)."""
        user_id = self.user_id
        with self.ctx.sessions.begin() as s:
            image = s.get(Image, image_id)
            if image is None or image.user_id != user_id or image.deleted_at is not None:
                raise NotFound(f"No image {image_id}.")
            image.deleted_at = self.ctx.clock()
            locations = [loc for loc in (image.path, image.svg_path) if loc]
        # Content-addressed: the file goes only if no live row uses the same bytes. Asked in a
        # new transaction, after the deletion commits, so an identical image committed
        # meanwhile is seen. One that a running job has stored but not yet committed has a
        # fresh file: only files older than the grace go now; the sweeper takes the rest later
        # (store_gc.collect_orphans).
        with self.ctx.sessions.begin() as s:
            unused = [loc for loc in locations if not location_in_use(s, loc)]
        cutoff = utc_now() - UNCOMMITTED_GRACE  # file ages are real time, not self.ctx.clock
        for location in unused:
            try:
                self.ctx.store.delete(location, if_older_than=cutoff)
            except StoreError as exc:  # the image is gone from the gallery; the sweeper retries
                log.warning("could not delete %s: %s", location, exc.detail)

    # -- credits ----------------------------------------------------------------------------

    def credits(self, *, statement: bool = True, limit: int | None = 100) -> dict[str, Any]:
        with self.ctx.sessions.begin() as s:
            user = self._user(s)
            ledger = self.ctx.ledger(s)
            ledger.ensure_allowance(user)
            balance = ledger.balance(user)
            out = {
                "user": user.email, "plan": user.plan, "available": balance.available,
                "balance": balance.available, "allowance": balance.allowance,
                "purchased": balance.purchased, "held": balance.held,
                "monthly_allowance": balance.monthly_allowance, "renews_on": balance.renews_on,
            }
            if statement:
                out["statement"] = ledger.statement(user, limit)
            return out

    def grant(self, email: str, amount: int, *, reason: str, key: str | None = None,
              actor: Actor | None = None) -> dict[str, Any]:
        """Operator action: add purchased credits to an account (created if new). With an
        ``actor``, the grant goes in the audit log in the same transaction."""
        if not isinstance(amount, int) or amount <= 0:
            raise InvalidRequest("Grant a positive whole number of credits.", field="amount")
        if not reason or not reason.strip():
            raise InvalidRequest("Say why (--reason); it goes on the user's statement.",
                                 field="reason")
        with self.ctx.sessions.begin() as s:
            user = get_or_create_user(s, email, self.ctx.clock)
            s.flush()
            ledger = self.ctx.ledger(s)
            ledger.ensure_allowance(user)
            applied = ledger.grant(user, amount, reason=reason.strip(),
                                   key=key or f"grant:{user.id}:{new_id()}")
            if actor is not None and applied:
                audit.record(s, self.ctx.clock(), actor, "credits.grant", user.email, None,
                             amount, note=reason.strip())
        return self.as_user(email).credits(statement=False)

    def plan_of(self, plan_id: str) -> Plan:
        """A plan by id (an unknown one: the free plan)."""
        return self.ctx.plans.get(plan_id)

    def plans(self) -> PlanBook:
        return self.ctx.plans

    def set_plan(self, email: str, plan: str) -> dict[str, Any]:
        """Move an account to ``plan`` (service/plan_changes.py says what happens to this
        month's allowance)."""
        with self.ctx.sessions.begin() as s:
            user = get_user(s, email)
            change_plan(s, self.ctx.ledger(s), self.ctx.plans, user, plan)
        return self.as_user(email).credits(statement=False)

    def set_unrestricted(self, opt_in: bool) -> None:
        with self.ctx.sessions.begin() as s:
            user = self._user(s)
            plan = self.ctx.plans.get(user.plan)
            if opt_in and not plan.unrestricted:
                raise InvalidRequest(f"Unrestricted mode is not part of the {plan.name} plan.",
                                     field="plan")
            user.unrestricted_opt_in = opt_in

    def verify_ledger(self) -> list[str]:
        with self.ctx.sessions.begin() as s:
            return ledger_verify.verify_ledger(s)
