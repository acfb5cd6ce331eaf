"""Another user's job, image, history, comparison or key is a 404 — never a 403."""

from __future__ import annotations

import time

from tests.web.conftest import wait_job


def test_cross_user_access_is_not_found(client, alice, bob):
    job = client.post("/v1/generations", json={"prompt": "private"}, headers=alice).json()
    job = wait_job(client, alice, job["id"])
    image = job["images"][0]
    cmp = client.post("/v1/compare", json={"prompt": "p", "models": ["fake-draft",
                                                                     "fake-general"]},
                      headers=alice).json()
    key = client.post("/v1/keys", json={"name": "a"}, headers=alice).json()

    attempts = [
        ("GET", f"/v1/jobs/{job['id']}", None),
        ("GET", f"/v1/jobs/{job['id']}/events", None),
        ("POST", f"/v1/jobs/{job['id']}/cancel", None),
        ("POST", f"/v1/jobs/{job['id']}/rerender", {"model": "fake-general"}),
        ("GET", f"/v1/images/{image['id']}", None),
        ("GET", f"/v1/images/{image['id']}/content", None),
        ("DELETE", f"/v1/images/{image['id']}", None),
        ("GET", f"/v1/compare/{cmp['id']}", None),
        ("GET", f"/v1/compare/{cmp['id']}/sheet", None),
        ("POST", f"/v1/compare/{cmp['id']}/keeper", {"job_id": job["id"]}),
        ("DELETE", f"/v1/keys/{key['id']}", None),
    ]
    for method, url, body in attempts:
        r = client.request(method, url, json=body, headers=bob)
        assert r.status_code == 404, (method, url, r.status_code)
        assert r.json()["error"]["code"] == "not_found"

    assert client.get("/v1/history", headers=bob).json()["items"] == []
    assert client.get("/v1/history", params={"q": "private"}, headers=bob).json()["items"] == []
    assert client.get("/v1/credits", headers=bob).json()["available"] == 50

    # Nothing bob tried changed alice's things.
    assert client.get(f"/v1/images/{image['id']}", headers=alice).status_code == 200
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {key['key']}"}).status_code \
        == 200
    deadline = time.monotonic() + 10
    while client.get(f"/v1/compare/{cmp['id']}", headers=alice).json()["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
