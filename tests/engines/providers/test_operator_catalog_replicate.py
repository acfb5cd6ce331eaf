"""An operator's catalog file adds a Replicate model, which then runs end to end — the HTTP
API, the job service, the ledger, the store — through a fake Replicate on 127.0.0.1, on
SQLite and on PostgreSQL. Its price comes from the file; an admin's price change applies
to the next job only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from provider_fakes import FAST, KEY, FakeReplicate, FakeServer
from tests.conftest import PG_URL, fresh_pg_schema
from tests.web.conftest import fast_config, make_key, wait_job

from triptych import Triptych
from triptych.engines import registry
from triptych.engines.providers.adapter import HostedFactory
from triptych.engines.providers.replicate import ReplicateEngine
from triptych.service.audit import Actor
from triptych.settings import Settings
from triptych.web.app import create_app

CATALOG = '''
# Replicate's "acme/painter", sold at 6 credits an image.
[[model]]
id = "acme-painter"
name = "Acme Painter"
provider = "Replicate"
family = "diffusion"
tier = "fast"
credits = 6
quality = "good"
description = "A painterly model hosted on Replicate."
best_for = ["art"]
max_width = 1440
max_height = 1440
default_width = 1024
default_height = 768
engine = "replicate:acme/painter"
'''


@pytest.fixture(params=["sqlite", "postgres"])
def setup(request, tmp_path, main_server: FakeServer, alt_server: FakeServer
          ) -> Iterator[tuple[Triptych, FakeReplicate]]:
    fake = FakeReplicate(main_server, alt_server)
    catalog = tmp_path / "operator.toml"
    catalog.write_text(CATALOG)
    # The real adapter, with test-sized timeouts; 127.0.0.2 plays Replicate's file host.
    registry.register("replicate", HostedFactory(ReplicateEngine, config=FAST,
                                                 trusted_hosts=("127.0.0.2",)))
    settings = Settings(home=tmp_path / "home", _env_file=None, catalog=str(catalog),
                        warm_up=False, replicate_api_key=KEY,
                        replicate_base_url=main_server.url,
                        upstream_allow=alt_server.allow)  # the fake's file host
    try:
        if request.param == "postgres":
            with fresh_pg_schema() as schema:
                settings.database_url = PG_URL
                tp = Triptych(settings, db_schema=schema)
                yield tp, fake
                tp.db.dispose()
        else:
            tp = Triptych(settings)
            yield tp, fake
            tp.db.dispose()
    finally:
        registry.unregister("replicate")


def test_a_catalog_file_model_runs_through_replicate(setup) -> None:
    tp, fake = setup
    model = {m["id"]: m for m in tp.models()}["acme-painter"]
    assert model["available"] and model["credits"] == 6 and model["provider"] == "Replicate"
    headers = make_key(tp, "ops@example.com")
    with TestClient(create_app(tp, fast_config())) as client:
        listed = client.get("/v1/models/acme-painter", headers=headers).json()
        assert listed["credits"] == 6 and listed["available"] is True
        accepted = client.post("/v1/generations", headers=headers, json={
            "prompt": "a lighthouse in oils", "model": "acme-painter", "seed": 7})
        assert accepted.status_code == 202, accepted.text
        job = wait_job(client, headers, accepted.json()["id"])
        assert job["status"] == "succeeded", job
        assert (job["cost"], job["charged"]) == (6, 6)
        image = client.get(f"/v1/images/{job['images'][0]['id']}/content", headers=headers)
        assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
        credits = client.get("/v1/credits", headers=headers).json()
        assert (credits["available"], credits["held"]) == (44, 0)
    [submit] = fake.main.calls_to("POST", r"/v1/models/acme/painter/predictions")
    assert submit.headers["authorization"] == f"Bearer {KEY}"
    assert submit.json()["input"]["prompt"] == "a lighthouse in oils"
    assert submit.json()["input"]["seed"] == 7
    # An admin reprices it at run time: the next job pays the new price.
    tp.admin.set_price("acme-painter", 2, Actor(None, "cli:ops"))
    fake.polls = 0
    out = tp.as_user("ops@example.com").generate("a harbour", model="acme-painter", seed=8)
    assert out.cost == 2
    assert tp.verify_ledger() == []
