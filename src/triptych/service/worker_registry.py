"""The worker registry: which ``triptych worker`` processes are alive and what they serve.

Each worker writes its own row in ``workers`` when it starts, renews ``last_seen`` every few
seconds while it runs and stamps ``stopped_at`` on a clean shutdown. A worker killed outright
leaves its row behind; it simply stops counting as alive once ``last_seen`` is older than
``LIVE_WITHIN_SECONDS``. Readers (``triptych status``, ``/metrics``) never ask the broker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from triptych.db.service_models import Worker

# Workers beat every few seconds; several missed beats in a row mean the process is gone
# (or cut off from the database, which for running jobs amounts to the same thing).
LIVE_WITHIN_SECONDS = 30.0


def register(sessions: sessionmaker[Session], id: str, hostname: str, pid: int,
             queues: list[str], models: list[str], concurrency: int, now: datetime) -> None:
    """Record a starting worker. A restart under the same id replaces the old row."""
    fields = dict(hostname=hostname, pid=pid, queues=list(queues), models=list(models),
                  concurrency=concurrency, started_at=now, last_seen=now, stopped_at=None,
                  notes={})
    for _ in range(2):  # a second try only if another process inserted the same id meanwhile
        try:
            with sessions.begin() as s:
                row = s.get(Worker, id, with_for_update=True)
                if row is None:
                    s.add(Worker(id=id, **fields))
                else:
                    for name, value in fields.items():
                        setattr(row, name, value)
            return
        except IntegrityError:
            continue
    raise RuntimeError(f"could not register worker {id}")


def beat(sessions: sessionmaker[Session], id: str, now: datetime,
         notes: dict[str, Any] | None = None) -> bool:
    """Renew a running worker's ``last_seen`` (and replace its ``notes``, e.g. the models it
    has loaded, when given); False when it has no live row (never registered, pruned, or
    marked stopped), so the caller can register again."""
    values: dict[str, Any] = {"last_seen": now}
    if notes is not None:
        values["notes"] = notes
    with sessions.begin() as s:
        return s.execute(
            update(Worker).where(Worker.id == id, Worker.stopped_at.is_(None))
            .values(**values).execution_options(synchronize_session=False)
        ).rowcount == 1


def stopped(sessions: sessionmaker[Session], id: str, now: datetime) -> None:
    """Mark a worker as shut down cleanly: it stops counting as alive at once."""
    with sessions.begin() as s:
        s.execute(update(Worker).where(Worker.id == id)
                  .values(stopped_at=now, last_seen=now)
                  .execution_options(synchronize_session=False))


def alive(session: Session, now: datetime,
          within_seconds: float = LIVE_WITHIN_SECONDS) -> list[Worker]:
    """Workers not stopped that beat within the last ``within_seconds``, by id."""
    since = now - timedelta(seconds=within_seconds)
    return list(session.scalars(
        select(Worker).where(Worker.stopped_at.is_(None), Worker.last_seen >= since)
        .order_by(Worker.id)))


def prune(sessions: sessionmaker[Session], now: datetime, older_than_seconds: float) -> int:
    """Delete rows of workers last seen more than ``older_than_seconds`` ago (containers
    get a new hostname, hence a new id, on every start); the number deleted."""
    cutoff = now - timedelta(seconds=older_than_seconds)
    with sessions.begin() as s:
        return s.execute(delete(Worker).where(Worker.last_seen < cutoff)
                         .execution_options(synchronize_session=False)).rowcount


def pool_of_queue(queue: str) -> str | None:
    """``triptych.<pool>`` or ``triptych.<pool>.<model>`` (service/pools.py) -> pool."""
    parts = queue.split(".", 2)
    return parts[1] if len(parts) >= 2 and parts[0] == "triptych" else None


def pools_of(worker: Worker) -> list[str]:
    return sorted({p for q in worker.queues or [] if (p := pool_of_queue(q))})


def served_pools(workers: Iterable[Worker]) -> dict[str, int]:
    """How many of ``workers`` (normally ``alive(...)``) serve each pool."""
    counts: Counter[str] = Counter()
    for worker in workers:
        counts.update(pools_of(worker))
    return dict(sorted(counts.items()))

