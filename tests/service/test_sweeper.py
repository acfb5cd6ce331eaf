"""The sweeper: one pass at a time across processes on PostgreSQL (the advisory lock), and a
pass redispatches what it recovered."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from tests.conftest import PG_URL

from triptych.service.sweeper import ADVISORY_KEY, Sweeper


def test_a_pass_is_skipped_while_another_process_sweeps(pg_tp, clock):
    job = pg_tp.submit("a cat", "fake-draft")
    clock.advance(seconds=60)
    taken: list[str] = []
    sweeper = Sweeper(pg_tp.jobs, lambda job_id, _p, _m: taken.append(job_id))
    other = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with other.connect() as conn:  # another process is in the middle of a pass
        assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}
                            ).scalar()
        assert sweeper.run_once() == {"requeued": [], "voided": [], "redispatched": []}
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
    other.dispose()
    assert sweeper.run_once()["redispatched"] == [job["id"]] == taken


def test_a_lost_local_job_is_requeued_and_redispatched_in_one_pass(tp, clock, fake_factory):
    from tests.support.fake_engine import FAKE_CARDS, fake_card

    from triptych.catalog.loader import Catalog
    from triptych.client import Triptych

    local = Triptych(tp.settings, clock=clock,
                     catalog=Catalog([fake_card("fake-local", 1, builtin=True), *FAKE_CARDS]))
    job = local.submit("a cat", "fake-local")
    assert local.jobs.claim(job["id"])
    clock.advance(seconds=local.settings.job_lease_seconds + 1)
    taken: list[str] = []
    result = Sweeper(local.jobs, lambda job_id, _p, _m: taken.append(job_id)).run_once()
    assert result["requeued"] == [job["id"]] == result["redispatched"] == taken


def test_every_so_often_a_pass_drops_long_gone_workers(tp, clock):
    from datetime import timedelta

    from sqlalchemy import select

    from triptych.db.service_models import Worker
    from triptych.service import worker_registry as reg
    from triptych.service.sweeper import GC_EVERY, WORKER_ROWS_KEPT

    now = clock()
    reg.register(tp.ctx.sessions, "gone@a", "a", 1, ["triptych.builtin"], [], 1,
                 now - timedelta(seconds=WORKER_ROWS_KEPT + 60))
    reg.register(tp.ctx.sessions, "live@b", "b", 2, ["triptych.builtin"], [], 1, now)
    sweeper = Sweeper(tp.jobs, lambda *_: None)
    for _ in range(GC_EVERY):
        sweeper.run_once()
    with tp.ctx.sessions() as s:
        assert [w.id for w in s.scalars(select(Worker))] == ["live@b"]
