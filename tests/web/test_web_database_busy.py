"""A SQLite database locked by another process: after the (configurable) busy timeout every
endpoint answers 503 ``database_busy`` with ``Retry-After``, not a 500; nothing is lost and
all works again once the lock is released."""

from __future__ import annotations

import sqlite3

import pytest

from tests.web.conftest import wait_job
from triptych.settings import Settings

BUSY = {"code": "database_busy", "message": "The database is busy; retry in a few seconds."}


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", sqlite_busy_seconds=0.2, _env_file=None)


def test_the_busy_timeout_comes_from_the_settings(tp):
    with tp.db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200


def test_a_locked_database_answers_503_then_recovers(client, tp, alice):
    job = client.post("/v1/generations", json={"prompt": "a lamp", "model": "fake-general"},
                      headers=alice).json()
    assert wait_job(client, alice, job["id"])["status"] == "succeeded"

    locker = sqlite3.connect(tp.settings.home / "triptych.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    try:
        for method, path, body in [("GET", "/v1/credits", None),
                                   ("GET", f"/v1/jobs/{job['id']}", None),
                                   ("POST", "/v1/generations", {"prompt": "a kite"})]:
            r = client.request(method, path, json=body, headers=alice)
            assert r.status_code == 503, (path, r.text)
            assert r.json() == {"error": BUSY} and r.headers["retry-after"] == "2"
        openai = client.post("/v1/images/generations", json={"prompt": "a kite"},
                             headers=alice)
        assert openai.status_code == 503 and openai.headers["retry-after"] == "2"
        assert openai.json()["error"]["message"] == BUSY["message"]
        assert openai.headers["x-should-retry"] == "true"  # the official client retries
    finally:
        locker.rollback()
        locker.close()

    credits = client.get("/v1/credits", headers=alice).json()
    assert (credits["available"], credits["held"]) == (45, 0)  # the refused submit held nothing
    assert [j["id"] for j in client.get("/v1/history", headers=alice).json()["items"]] == \
        [job["id"]]
    again = client.post("/v1/generations", json={"prompt": "a kite"}, headers=alice)
    assert again.status_code == 202
    assert wait_job(client, alice, again.json()["id"])["status"] == "succeeded"
    assert tp.verify_ledger() == []
