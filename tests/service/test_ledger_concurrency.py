"""Many threads submit against one balance: exactly the affordable number succeed, on SQLite
and on PostgreSQL, the balance never goes below zero, and the jobs-in-flight cap holds."""

import threading

import pytest
from tests.conftest import BOTH_DBS

from triptych.db.models import User
from triptych.errors import InsufficientCredits, TooManyJobs


def _race(tp, threads: int, model: str) -> tuple[int, list[type]]:
    """(accepted, the error types of the refused) for ``threads`` simultaneous submits."""
    tp.credits()  # create the account and its allowance first
    barrier = threading.Barrier(threads)
    ok: list[int] = []
    refused: list[type] = []

    def worker(i: int) -> None:
        barrier.wait()
        try:
            tp.submit(f"cat {i}", model)
            ok.append(i)
        except Exception as exc:  # noqa: BLE001 - the test says which errors are right
            refused.append(type(exc))

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(ok), refused


@BOTH_DBS
def test_exactly_the_affordable_number_succeed(tp):
    tp.settings.max_jobs_in_flight = 100
    ok, refused = _race(tp, 24, "fake-premium")  # 50 credits buy three 15-credit jobs
    assert (ok, refused) == (3, [InsufficientCredits] * 21)
    credits = tp.credits()
    assert credits["available"] == 5 and credits["held"] == 45
    assert tp.verify_ledger() == []


@BOTH_DBS
@pytest.mark.parametrize(("purchased", "cap", "accepted", "error"), [
    (1000, 100, 20, None),  # plenty: none refused (the allowance runs out mid-race)
    (100, 100, 10, InsufficientCredits),  # 50 free + 100 bought = ten 15-credit jobs
    (1000, 12, 12, TooManyJobs),  # the in-flight cap, counted across concurrent submits
])
def test_free_then_purchased_credits_under_concurrency(tp, purchased, cap, accepted, error):
    tp.settings.max_jobs_in_flight = cap
    tp.grant(tp.user_email, purchased, reason="bought")
    ok, refused = _race(tp, 20, "fake-premium")
    assert (ok, refused) == (accepted, [error] * (20 - accepted))
    credits = tp.credits()
    assert credits["held"] == 15 * accepted
    assert (credits["allowance"], credits["purchased"]) == (0, 50 + purchased - 15 * accepted)
    assert tp.verify_ledger() == []


@BOTH_DBS
def test_holds_alone_spend_free_then_purchased_under_concurrency(tp):
    # The ledger locks what it reads, whoever calls it (here: no job service, no user lock).
    tp.grant(tp.user_email, 100, reason="bought")  # 150 in all: ten 15-credit holds
    barrier = threading.Barrier(20)
    ok: list[int] = []
    refused: list[type] = []

    def hold(i: int) -> None:
        barrier.wait()
        try:
            with tp.ctx.sessions.begin() as s:
                tp.ctx.ledger(s).hold(s.get(User, tp.user_id), f"job-{i}", 15)
            ok.append(i)
        except Exception as exc:  # noqa: BLE001
            refused.append(type(exc))

    pool = [threading.Thread(target=hold, args=(i,)) for i in range(20)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert (len(ok), refused) == (10, [InsufficientCredits] * 10)
    credits = tp.credits()  # (no jobs behind these holds: verify_ledger would say so)
    assert (credits["allowance"], credits["purchased"], credits["held"]) == (0, 0, 150)


@BOTH_DBS
def test_refunds_and_holds_of_one_user_at_once_do_not_deadlock(tp):
    # A refund moves held -> allowance while a hold moves allowance -> held: unordered, each
    # could lock one row and wait for the other's (PostgreSQL then aborts one of them).
    tp.settings.max_jobs_in_flight = 100
    tp.grant(tp.user_email, 1000, reason="bought")
    queued = [tp.submit(f"old {i}", "fake-general")["id"] for i in range(10)]  # 50 free
    barrier = threading.Barrier(20)
    errors: list[Exception] = []

    def work(i: int) -> None:
        barrier.wait()
        try:
            if i % 2:
                tp.cancel(queued[i // 2])
            else:
                tp.submit(f"new {i}", "fake-general")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    assert tp.credits()["held"] == 50 and tp.verify_ledger() == []


@BOTH_DBS
def test_a_new_months_allowance_is_granted_once_under_concurrency(tp, clock):
    tp.credits()  # March's allowance
    errors: list[Exception] = []

    def look(barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            tp.credits(statement=False)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    for _ in range(6):  # each month: last month's leftover expires, this month's is granted
        clock.advance(days=31)
        barrier = threading.Barrier(8)
        pool = [threading.Thread(target=look, args=(barrier,)) for _ in range(8)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    assert errors == []
    credits = tp.credits()
    assert credits["available"] == 50
    assert [line["kind"] for line in credits["statement"]] == ["grant", "expire"] * 6 + ["grant"]
    assert tp.verify_ledger() == []
