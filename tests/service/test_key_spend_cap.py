"""An API key's monthly spend cap: checked in the submit's transaction, with the hold, so
no interleaving of submits can take a key past it. Both databases; a race on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from tests.conftest import BOTH_DBS

from triptych.errors import InvalidRequest, SpendCapReached


def keyed(tp, cap: int | None):
    user_id = tp.user_id
    key, _ = tp.accounts.create_key(user_id, "capped", monthly_cap=cap)
    return tp.as_user(tp.user_email, user_id=user_id, api_key_id=key["id"]), key


@BOTH_DBS
def test_the_cap_refuses_what_would_pass_it_and_names_cap_and_reset(tp, clock) -> None:
    via_key, key = keyed(tp, 12)
    assert key["monthly_cap"] == 12
    first = via_key.submit("a red circle", "fake-general", seed=1)
    via_key.submit("a blue star", "fake-general", seed=2)  # 10 of 12 held
    with pytest.raises(SpendCapReached) as info:
        via_key.submit("a green square", "fake-general", seed=3)
    error = info.value
    assert error.http_status == 402 and error.code == "spend_cap_reached"
    assert (error.fields["cap"], error.fields["spent"], error.fields["needed"]) == (12, 10, 5)
    assert error.fields["resets_on"] == "2026-04-01"
    assert "12 credits" in error.message and "2026-04-01" in error.message
    assert via_key.submit("a tiny dot", "fake-draft", seed=4)["cost"] == 1  # 11 of 12 fits
    tp.submit("a green square", "fake-general", seed=3)  # the web UI / CLI: no cap
    assert tp.credits(statement=False)["held"] == 16
    # A job that fails is refunded and stops counting; one that succeeds counts its charge.
    tp.jobs.cancel(tp.user_id, first["id"])
    assert via_key.submit("a green square", "fake-general", seed=5)["cost"] == 5
    # Next month the cap starts again.
    clock.advance(days=20)
    assert via_key.submit("a new month", "fake-general", seed=6)["cost"] == 5


def test_a_cap_is_a_positive_whole_number(tp) -> None:
    for bad in (0, -5, 10_000_001):
        with pytest.raises(InvalidRequest) as info:
            tp.accounts.create_key(tp.user_id, "x", monthly_cap=bad)
        assert info.value.field == "monthly_cap"
    assert tp.accounts.create_key(tp.user_id, "x")[0]["monthly_cap"] is None


@pytest.mark.parametrize("db", ["postgres", "sqlite"], indirect=True)
def test_concurrent_submits_cannot_pass_the_cap(tp) -> None:
    tp.settings.max_jobs_in_flight = 50
    via_key, key = keyed(tp, 20)  # four 5-credit jobs; the balance (50) would allow ten
    barrier = threading.Barrier(10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def submit(i: int) -> None:
        mine = tp.as_user(tp.user_email, user_id=tp.user_id, api_key_id=key["id"])
        barrier.wait()
        try:
            mine.submit(f"race {i}", "fake-general", seed=i)
            result = "ok"
        except SpendCapReached:
            result = "capped"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["capped"] * 6 + ["ok"] * 4
    assert tp.credits(statement=False)["held"] == 20
    assert via_key is not None and tp.verify_ledger() == []
