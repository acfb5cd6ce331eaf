"""Twenty simultaneous paid requests over HTTP from one account with free and purchased
credits, on SQLite and PostgreSQL, while the workers run and capture the accepted jobs: exactly
the affordable ones are accepted (the allowance first, then purchased credits), the rest get
402, never a 500, and the books balance."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.conftest import BOTH_DBS
from tests.web.conftest import make_key

RACERS = 20


@BOTH_DBS
@pytest.mark.parametrize(("purchased", "accepted"), [(1000, 20), (100, 10)])
def test_concurrent_paid_requests_spend_free_then_purchased(live, tp, purchased, accepted):
    tp.settings.max_jobs_in_flight = 100
    alice = make_key(tp, "alice@example.com")
    tp.grant("alice@example.com", purchased, reason="bought")  # plus the 50 free
    barrier = threading.Barrier(RACERS)
    answers: list[httpx.Response] = []

    def submit(i: int) -> None:
        with httpx.Client(base_url=live.url, headers=alice, timeout=30) as http:
            barrier.wait()
            answers.append(http.post("/v1/generations",
                                     json={"prompt": f"cat {i}", "model": "fake-premium"}))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] * accepted + [402] * (RACERS - accepted), [r.text for r in answers]
    with httpx.Client(base_url=live.url, headers=alice, timeout=30) as http:
        for r in answers:
            if r.status_code == 202:
                # the SSE stream ends when the job does
                assert '"status":"succeeded"' in http.get(r.json()["events_url"]).text
        credits = http.get("/v1/credits", params={"statement": "false"}).json()
    assert (credits["allowance"], credits["held"]) == (0, 0)
    assert credits["purchased"] == 50 + purchased - 15 * accepted
    assert tp.verify_ledger() == []
