"""``/v1/admin/models`` and ``/v1/admin/audit``: an admin reprices and switches models over
the API; a job already held keeps its price; non-admins are refused; every change is in the
audit log. Both databases."""

from __future__ import annotations

from tests.conftest import BOTH_DBS
from tests.web.conftest import make_key, wait_job


@BOTH_DBS
def test_admin_changes_a_model_over_the_api(client, tp) -> None:
    boss = make_key(tp, "boss@example.com", admin=True)
    alice = make_key(tp, "alice@example.com")
    held = client.post("/v1/generations", headers=alice,
                       json={"prompt": "a star", "model": "fake-general"}).json()
    assert client.patch("/v1/admin/models/fake-general", headers=alice,
                        json={"credits": 1}).status_code == 403
    changed = client.patch("/v1/admin/models/fake-general", headers=boss,
                           json={"credits": 9, "enabled": True})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["credits"], body["card_credits"], body["override_credits"]) == (9, 5, 9)
    assert body["updated_by"] == "boss@example.com"
    assert wait_job(client, alice, held["id"])["charged"] == 5  # held before the change
    later = client.post("/v1/generations", headers=alice,
                        json={"prompt": "a moon", "model": "fake-general"}).json()
    assert later["cost"] == 9
    off = client.patch("/v1/admin/models/fake-general", headers=boss, json={"enabled": False})
    assert off.json()["enabled"] is False
    refused = client.post("/v1/generations", headers=alice,
                          json={"prompt": "a sun", "model": "fake-general"})
    assert refused.status_code == 503
    assert "turned off by the administrator" in refused.json()["error"]["message"]
    reset = client.delete("/v1/admin/models/fake-general/override", headers=boss).json()
    assert (reset["credits"], reset["enabled"], reset["override_credits"]) == (5, True, None)
    assert client.patch("/v1/admin/models/nope", headers=boss,
                        json={"credits": 3}).status_code == 404
    assert client.patch("/v1/admin/models/fake-draft", headers=boss,
                        json={"credits": -1}).status_code == 422
    audit = client.get("/v1/admin/audit", headers=boss).json()
    assert [e["action"] for e in audit["items"]] == ["model.reset", "model.disable",
                                                    "model.price"]
    assert audit["items"][2]["old"] == 5 and audit["items"][2]["new"] == 9
    only = client.get("/v1/admin/audit?action=model.price", headers=boss).json()
    assert only["total"] == 1
    assert client.get("/v1/admin/audit", headers=alice).status_code == 403
    models = {m["id"]: m for m in client.get("/v1/admin/models", headers=boss).json()}
    assert models["fake-general"]["credits"] == 5


def test_a_key_with_a_cap_over_the_api(client, tp) -> None:
    boss = make_key(tp, "boss@example.com")
    made = client.post("/v1/keys", headers=boss, json={"name": "ci", "monthly_cap": 6})
    assert made.status_code == 201 and made.json()["monthly_cap"] == 6
    capped = {"Authorization": f"Bearer {made.json()['key']}"}
    assert client.post("/v1/generations", headers=capped,
                       json={"prompt": "a star", "model": "fake-general"}).status_code == 202
    refused = client.post("/v1/generations", headers=capped,
                          json={"prompt": "a moon", "model": "fake-general"})
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "spend_cap_reached" and error["cap"] == 6
    assert "resets on" in error["message"]
    assert client.post("/v1/keys", headers=boss,
                       json={"monthly_cap": 0}).status_code == 422


def test_the_openai_endpoint_answers_a_reached_cap_as_out_of_quota(client, tp) -> None:
    owner = make_key(tp, "boss@example.com")
    made = client.post("/v1/keys", headers=owner, json={"monthly_cap": 1}).json()
    capped = {"Authorization": f"Bearer {made['key']}"}
    refused = client.post("/v1/images/generations", headers=capped,
                          json={"prompt": "a star", "model": "fake-general"})
    assert refused.status_code == 429 and refused.headers["x-should-retry"] == "false"
    error = refused.json()["error"]
    assert (error["type"], error["code"], error["cap"]) == ("insufficient_quota",
                                                          "spend_cap_reached", 1)
