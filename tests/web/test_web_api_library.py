"""Catalog, quote, recommend, compare, credits, history and images over HTTP."""

from __future__ import annotations

import time

from tests.conftest import BOTH_DBS
from tests.web.conftest import wait_job


def generate(client, headers, prompt, model="fake-draft", **extra):
    job = client.post("/v1/generations", json={"prompt": prompt, "model": model, **extra},
                      headers=headers).json()
    return wait_job(client, headers, job["id"])


def test_models_quote_recommend(client, alice):
    models = client.get("/v1/models", headers=alice).json()["data"]  # OpenAI's list shape
    assert [m["id"] for m in models] == ["fake-draft", "fake-general", "fake-premium"]
    assert "engine" not in models[0] and models[0]["available"] is True
    premium = client.get("/v1/models", params={"tier": "premium"}, headers=alice).json()["data"]
    assert [m["id"] for m in premium] == ["fake-premium"]

    q = client.post("/v1/quote", json={"model": "fake-general", "n": 3}, headers=alice).json()
    assert (q["total"], q["available"], q["affordable"]) == (15, 50, True)
    multi = client.post("/v1/quote", json={"models": ["fake-draft", "fake-premium"]},
                        headers=alice).json()
    assert multi["total"] == 16 and len(multi["lines"]) == 2
    assert client.get("/v1/credits", headers=alice).json()["available"] == 50  # free
    bad = client.post("/v1/quote", json={"model": "nope"}, headers=alice)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "model"

    rec = client.post("/v1/recommend", json={"prompt": "quick rough draft of a lake"},
                      headers=alice).json()
    assert rec["recommendations"][0]["model"] == "fake-draft"
    assert rec["recommendations"][0]["reasons"]
    assert any(i["id"] == "instant" for i in rec["intents"])


@BOTH_DBS
def test_compare_keeper_and_sheet(client, alice):
    r = client.post("/v1/compare", headers=alice,
                    json={"prompt": "a boat", "models": ["fake-premium", "fake-draft"],
                          "seed": 5})
    assert r.status_code == 202
    cmp = r.json()
    assert cmp["total_cost"] == 16 and cmp["seed"] == 5
    deadline = time.monotonic() + 20
    while cmp["status"] != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
        cmp = client.get(f"/v1/compare/{cmp['id']}", headers=alice).json()
    assert cmp["status"] == "done" and cmp["total_charged"] == 16
    # side by side in the order the user asked for
    assert [j["model"] for j in cmp["jobs"]] == ["fake-premium", "fake-draft"]
    assert all(j["seed"] == 5 for j in cmp["jobs"])
    sheet = client.get(cmp["sheet_url"], headers=alice)
    assert sheet.status_code == 200 and sheet.content.startswith(b"\x89PNG")
    keeper = cmp["jobs"][0]["id"]
    marked = client.post(f"/v1/compare/{cmp['id']}/keeper", json={"job_id": keeper},
                         headers=alice).json()
    assert marked["keeper_job_id"] == keeper
    stranger = client.post(f"/v1/compare/{cmp['id']}/keeper", json={"job_id": "x" * 32},
                           headers=alice)
    assert stranger.status_code == 422 and stranger.json()["error"]["field"] == "job_id"
    for models in (["fake-draft"], ["fake-draft"] * 2, ["a", "b", "c", "d", "e"]):
        r = client.post("/v1/compare", json={"prompt": "x", "models": models}, headers=alice)
        assert r.status_code == 422 and r.json()["error"]["field"] == "models"


@BOTH_DBS
def test_compare_idempotency_key(client, alice):
    headers = {**alice, "Idempotency-Key": "cmp-1"}
    body = {"prompt": "a boat", "models": ["fake-premium", "fake-draft"]}
    first = client.post("/v1/compare", json=body, headers=headers)
    again = client.post("/v1/compare", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]  # no seed given: derived from the key
    other = client.post("/v1/compare", headers=headers,
                        json={**body, "models": ["fake-general", "fake-draft"]})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_conflict"
    for job in first.json()["jobs"]:
        wait_job(client, alice, job["id"])
    assert client.get("/v1/credits", headers=alice).json()["available"] == 34  # charged once


@BOTH_DBS
def test_credits_statement(client, alice):
    generate(client, alice, "one", model="fake-general")
    credits = client.get("/v1/credits", headers=alice).json()
    assert credits["available"] == 45 and credits["renews_on"] == "2026-04-01"
    kinds = [line["kind"] for line in credits["statement"]]
    assert kinds == ["capture", "hold", "grant"]
    assert credits["statement"][1]["delta"] == -5 and "from" in credits["statement"][1]
    short = client.get("/v1/credits", params={"statement": "false"}, headers=alice).json()
    assert short["statement"] == []


def test_history_search_and_paging(client, alice):
    for prompt in ("red fox", "blue whale", "red panda"):
        generate(client, alice, prompt)
    generate(client, alice, "red kite", model="fake-general")
    found = client.get("/v1/history", params={"q": "red"}, headers=alice).json()
    assert {j["prompt"] for j in found["items"]} == {"red fox", "red panda", "red kite"}
    by_model = client.get("/v1/history", params={"model": "fake-general"}, headers=alice).json()
    assert [j["prompt"] for j in by_model["items"]] == ["red kite"]
    page1 = client.get("/v1/history", params={"limit": 3}, headers=alice).json()
    assert len(page1["items"]) == 3 and page1["next_offset"] == 3
    page2 = client.get("/v1/history", params={"limit": 3, "offset": 3}, headers=alice).json()
    assert len(page2["items"]) == 1 and page2["next_offset"] is None
    ids = {j["id"] for j in page1["items"]} | {j["id"] for j in page2["items"]}
    assert len(ids) == 4
    assert client.get("/v1/history", params={"limit": 0}, headers=alice).status_code == 422


def test_image_metadata_download_and_delete(client, alice):
    job = generate(client, alice, "a lamp")
    image = job["images"][0]
    meta = client.get(f"/v1/images/{image['id']}", headers=alice).json()
    assert meta["record"]["prompt"] == "a lamp" and "path" not in meta
    assert all("/" not in str(v) or k in ("url", "media_type", "created_at")
               for k, v in meta.items() if isinstance(v, str))
    content = client.get(image["url"], params={"download": "true"}, headers=alice)
    assert content.headers["content-type"] == "image/png"
    assert "attachment" in content.headers["content-disposition"]
    assert client.get(image["url"], params={"format": "svg"}, headers=alice).status_code == 404
    assert client.delete(f"/v1/images/{image['id']}", headers=alice).status_code == 204
    assert client.get(f"/v1/images/{image['id']}", headers=alice).status_code == 404
    assert client.get(image["url"], headers=alice).status_code == 404
    assert client.delete(f"/v1/images/{image['id']}", headers=alice).status_code == 404
    # The job and its charge stay on the record.
    assert client.get(f"/v1/jobs/{job['id']}", headers=alice).json()["charged"] == 1
