"""Many threads submit against a small balance: exactly the affordable number succeed, on
SQLite and on PostgreSQL, and the balance never goes below zero."""

import threading

import pytest

from triptych.errors import InsufficientCredits, TooManyJobs


def _race(tp, threads: int, model: str) -> tuple[int, int]:
    tp.credits()  # create the account and its allowance first
    barrier = threading.Barrier(threads)
    ok, refused = [], []

    def worker(i: int) -> None:
        barrier.wait()
        try:
            tp.submit(f"cat {i}", model)
            ok.append(i)
        except (InsufficientCredits, TooManyJobs):
            refused.append(i)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(ok), len(refused)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_exactly_the_affordable_number_succeed(backend, request, settings):
    tp = request.getfixturevalue("tp" if backend == "sqlite" else "pg_tp")
    tp.settings.max_jobs_in_flight = 100
    ok, refused = _race(tp, 24, "fake-premium")  # 50 credits buy three 15-credit jobs
    assert (ok, refused) == (3, 21)
    credits = tp.credits()
    assert credits["available"] == 5 and credits["held"] == 45
    assert tp.verify_ledger() == []
