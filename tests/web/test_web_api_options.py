"""Model options over HTTP: listed per model on /v1/models, accepted on /v1/generations,
refused with the option named (422, nothing held)."""

from __future__ import annotations

from tests.conftest import BOTH_DBS
from tests.web.conftest import wait_job
from triptych.engines.options import OptionSpec


@BOTH_DBS
def test_options_listed_sent_and_refused(client, alice, fake_factory):
    fake_factory.options_by_target["fake-general"] = {
        "guidance": OptionSpec("number", "cfg", 0.0, 20.0)}
    models = {m["id"]: m for m in client.get("/v1/models", headers=alice).json()["data"]}
    assert models["fake-general"]["options"]["guidance"] == {
        "type": "number", "description": "cfg", "minimum": 0.0, "maximum": 20.0}
    assert models["fake-draft"]["options"] == {}

    accepted = client.post("/v1/generations", headers=alice, json={
        "prompt": "a red circle", "model": "fake-general", "options": {"guidance": 4.5}})
    assert accepted.status_code == 202, accepted.text
    job = wait_job(client, alice, accepted.json()["id"])
    assert job["status"] == "succeeded" and job["options"] == {"guidance": 4.5}
    assert fake_factory.engine("fake-general").calls[-1].options == {"guidance": 4.5}

    before = client.get("/v1/credits", headers=alice).json()["available"]
    refused = client.post("/v1/generations", headers=alice, json={
        "prompt": "a red circle", "model": "fake-general", "options": {"guidance": 99}})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "options.guidance" and "between 0 and 20" in error["message"]
    assert client.get("/v1/credits", headers=alice).json()["available"] == before
