"""Counts over the ``jobs`` table for operators: jobs by model and state, queue depth and the
oldest queued job per pool, failures by provider and error code.

One ``GROUP BY`` gathers them all, so ``/metrics`` and ``triptych status`` cost one query
(plus the ledger's sums) however many jobs there are in flight, and agree across processes
because they read the database rather than any process's memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from triptych.catalog.card import ModelCard
from triptych.catalog.loader import Catalog, UnknownModelError
from triptych.db.models import Job, Transfer
from triptych.service.job_status import FAILED, QUEUED
from triptych.service.pools import POOLS, pool_of

UNKNOWN = "unknown"  # a model no longer in this process's catalog


@dataclass(frozen=True)
class JobGroup:
    model_id: str
    status: str
    error_code: str | None
    count: int
    oldest: datetime | None  # earliest created_at in the group


@dataclass(frozen=True)
class QueueDepth:
    depth: int
    oldest_age_seconds: float  # 0 when the queue is empty


def job_groups(session: Session) -> list[JobGroup]:
    rows = session.execute(
        select(Job.model_id, Job.status, Job.error_code, func.count(), func.min(Job.created_at))
        .group_by(Job.model_id, Job.status, Job.error_code))
    return [JobGroup(*row) for row in rows]


def by_state(groups: list[JobGroup]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for g in groups:
        counts[g.status] += g.count
    return dict(sorted(counts.items()))


def by_model_state(groups: list[JobGroup]) -> dict[tuple[str, str], int]:
    counts: Counter[tuple[str, str]] = Counter()
    for g in groups:
        counts[(g.model_id, g.status)] += g.count
    return dict(sorted(counts.items()))


def queues(groups: list[JobGroup], catalog: Catalog, now: datetime) -> dict[str, QueueDepth]:
    """Queued jobs per pool (every pool listed, empty ones as zero)."""
    depth: Counter[str] = Counter()
    oldest: dict[str, datetime] = {}
    for g in groups:
        if g.status != QUEUED:
            continue
        pool = _lookup(catalog, g.model_id, pool_of)
        depth[pool] += g.count
        if g.oldest is not None and (pool not in oldest or g.oldest < oldest[pool]):
            oldest[pool] = g.oldest
    pools = list(POOLS) + sorted(set(depth) - set(POOLS))
    return {p: QueueDepth(depth[p], max(0.0, (now - oldest[p]).total_seconds())
                          if p in oldest else 0.0) for p in pools}


def failures(groups: list[JobGroup], catalog: Catalog) -> dict[tuple[str, str], int]:
    """Failed jobs by (provider, error code): provider and engine errors by kind. The
    provider is the engine binding's scheme (``builtin``, ``bfl``, ``fal``…): the API the
    job went through, in a form fit for a label."""
    counts: Counter[tuple[str, str]] = Counter()
    for g in groups:
        if g.status == FAILED:
            provider = _lookup(catalog, g.model_id, lambda card: card.scheme)
            counts[(provider, g.error_code or UNKNOWN)] += g.count
    return dict(sorted(counts.items()))


def settled_credits(session: Session) -> dict[str, int]:
    """All credits ever captured (charged) and voided (refunded to the user)."""
    rows = dict(session.execute(
        select(Transfer.kind, func.coalesce(func.sum(Transfer.amount), 0))
        .where(Transfer.kind.in_(("capture", "void"))).group_by(Transfer.kind)).all())
    return {"captured": int(rows.get("capture", 0)), "refunded": int(rows.get("void", 0))}


def _lookup(catalog: Catalog, model_id: str, attribute: Callable[[ModelCard], str]) -> str:
    try:
        return attribute(catalog.get(model_id))
    except UnknownModelError:
        return UNKNOWN
