"""The worker registry on real SQLite and PostgreSQL: register, beat, stop, who is alive,
which pools and models they serve, restarts under the same id, pruning."""

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from triptych.db.service_models import Worker
from triptych.service import worker_registry as reg

T0 = datetime(2026, 3, 14, 12, 0, 0)
BUILTIN = ["triptych.builtin.pico-dit", "triptych.builtin.pico-turbo"]
HOSTED = ["triptych.hosted.flux-2-pro"]


@pytest.fixture(params=["sqlite", "postgres"])
def sessions(request):
    tp = request.getfixturevalue("tp" if request.param == "sqlite" else "pg_tp")
    return tp.ctx.sessions


def live_ids(sessions, now, within=reg.LIVE_WITHIN_SECONDS):
    with sessions() as s:
        return [w.id for w in reg.alive(s, now, within)]


def test_a_worker_is_alive_while_it_beats_and_not_after(sessions):
    reg.register(sessions, "b1@host-a", "host-a", 101, BUILTIN, ["pico-dit", "pico-turbo"],
                 2, T0)
    assert live_ids(sessions, T0) == ["b1@host-a"]
    later = T0 + timedelta(seconds=reg.LIVE_WITHIN_SECONDS + 5)
    assert live_ids(sessions, later) == []  # silent for too long: counted as gone
    assert reg.beat(sessions, "b1@host-a", later)
    assert live_ids(sessions, later) == ["b1@host-a"]
    with sessions() as s:
        [row] = s.scalars(select(Worker)).all()
        assert (row.hostname, row.pid, row.concurrency) == ("host-a", 101, 2)
        assert row.started_at == T0 and row.last_seen == later
        assert row.models == ["pico-dit", "pico-turbo"] and row.queues == BUILTIN


def test_a_stopped_worker_is_gone_at_once_and_its_beat_says_so(sessions):
    reg.register(sessions, "h1@host-b", "host-b", 7, HOSTED, ["flux-2-pro"], 32, T0)
    reg.stopped(sessions, "h1@host-b", T0 + timedelta(seconds=1))
    assert live_ids(sessions, T0 + timedelta(seconds=1)) == []
    assert not reg.beat(sessions, "h1@host-b", T0 + timedelta(seconds=2))
    assert not reg.beat(sessions, "never-registered@x", T0)


def test_a_restart_under_the_same_id_replaces_the_row(sessions):
    reg.register(sessions, "w@h", "h", 1, BUILTIN, ["pico-dit"], 1, T0)
    reg.stopped(sessions, "w@h", T0 + timedelta(seconds=5))
    again = T0 + timedelta(seconds=10)
    reg.register(sessions, "w@h", "h", 2, HOSTED, ["flux-2-pro"], 8, again)
    with sessions() as s:
        [row] = reg.alive(s, again)
        assert (row.pid, row.queues, row.concurrency, row.started_at, row.stopped_at) == (
            2, HOSTED, 8, again, None)
        assert s.scalar(select(func.count()).select_from(Worker)) == 1


def test_pools_and_models_served_by_live_workers(sessions):
    reg.register(sessions, "b1@a", "a", 1, BUILTIN, ["pico-dit", "pico-turbo"], 2, T0)
    reg.register(sessions, "b2@b", "b", 2, ["triptych.builtin"], ["pico-dit"], 1, T0)
    reg.register(sessions, "h1@c", "c", 3, HOSTED, ["flux-2-pro"], 32, T0)
    reg.register(sessions, "g1@d", "d", 4, ["triptych.gpu.sdxl"], ["sdxl"], 1,
                 T0 - timedelta(minutes=5))  # last seen long ago: not serving
    reg.stopped(sessions, "h1@c", T0)
    with sessions() as s:
        live = reg.alive(s, T0)
    assert reg.served_pools(live) == {"builtin": 2}
    assert [reg.pools_of(w) for w in live] == [["builtin"], ["builtin"]]


def test_prune_deletes_only_long_silent_rows(sessions):
    reg.register(sessions, "old@a", "a", 1, BUILTIN, [], 1, T0 - timedelta(days=2))
    reg.register(sessions, "new@b", "b", 2, BUILTIN, [], 1, T0)
    assert reg.prune(sessions, T0, older_than_seconds=86400) == 1
    with sessions() as s:
        assert [w.id for w in s.scalars(select(Worker))] == ["new@b"]


def test_concurrent_registrations_of_one_id_leave_one_row(sessions):
    barrier = threading.Barrier(6)
    errors = []

    def start(pid: int) -> None:
        try:
            barrier.wait()
            reg.register(sessions, "same@host", "host", pid, BUILTIN, ["pico-dit"], 1, T0)
        except Exception as exc:  # collected: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(pid,)) for pid in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sessions() as s:
        [row] = s.scalars(select(Worker)).all()
        assert row.id == "same@host" and row.pid in range(6)


def test_pool_of_queue_reads_both_queue_shapes():
    assert reg.pool_of_queue("triptych.hosted") == "hosted"
    assert reg.pool_of_queue("triptych.builtin.pico-dit") == "builtin"
    assert reg.pool_of_queue("triptych.gpu.model.with.dots") == "gpu"
    assert reg.pool_of_queue("celery") is None
