"""What the deployment is doing, read from the database (``triptych status``).

Live workers come from the worker registry (their own heartbeats), queues and job counts from
the jobs table, so the answer is the same from any machine that reaches the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from triptych.engines import residency
from triptych.service import job_counts, worker_registry
from triptych.service.job_status import FINAL, IN_FLIGHT
from triptych.service.redact import redact_url

if TYPE_CHECKING:
    from triptych.service.jobs import JobContext


def deployment_status(ctx: JobContext) -> dict[str, Any]:
    """Workers alive (with the local models each has loaded), queue depth and oldest job per
    pool, jobs by state, and where the broker, database and store are (credentials
    redacted)."""
    settings = ctx.settings
    now = ctx.clock()
    with ctx.sessions() as s:
        groups = job_counts.job_groups(s)
        live = worker_registry.alive(s, now)
        workers = [{
            "id": w.id, "hostname": w.hostname, "pid": w.pid,
            "pools": worker_registry.pools_of(w), "models": list(w.models or []),
            "concurrency": w.concurrency, "started_at": w.started_at.isoformat(),
            "last_seen": w.last_seen.isoformat(),
            "last_seen_seconds_ago": round(max(0.0, (now - w.last_seen).total_seconds()), 1),
            "residency": (w.notes or {}).get("residency"),
        } for w in live]
    states = job_counts.by_state(groups)
    return {
        "executor": "celery" if settings.broker_url else "embedded",
        "broker": redact_url(settings.broker_url) if settings.broker_url else None,
        "database": redact_url(settings.resolved_database_url),
        "store": (redact_url(settings.store_url) if settings.store_url
                  else str(settings.image_dir)),
        "workers": workers,
        "queues": {pool: {"depth": q.depth, "oldest_age_seconds": round(q.oldest_age_seconds, 1)}
                   for pool, q in job_counts.queues(groups, ctx.catalog, now).items()},
        "jobs": {state: states.get(state, 0) for state in (*IN_FLIGHT, *FINAL)},
        # Local models loaded in this process (the embedded executor's, when a server asks);
        # each worker reports its own above.
        "residency": manager.report() if (manager := residency.current()) else None,
    }
