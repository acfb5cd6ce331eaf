"""Concurrent sign-ups over HTTP on a fresh install: exactly one first account is the admin,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

import httpx

from tests.conftest import BOTH_DBS

RACERS = 8


@BOTH_DBS
def test_concurrent_first_signups_make_one_admin(live):
    barrier = threading.Barrier(RACERS)
    answers: list[httpx.Response] = []

    def sign_up(i: int) -> None:
        with httpx.Client(base_url=live.url, timeout=30) as http:
            barrier.wait()
            answers.append(http.post("/v1/auth/signup", json={
                "email": f"racer{i}@example.com", "password": "s3cret-pass"}))

    threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in answers] == [201] * RACERS, [r.text for r in answers]
    roles = sorted(r.json()["user"]["role"] for r in answers)
    assert roles == ["admin"] + ["user"] * (RACERS - 1)
