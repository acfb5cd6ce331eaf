"""A provider pointing Triptych at an address inside the operator's network, through the
whole job road (``Triptych.generate`` with the real BFL adapter against its fake): the job
fails with a clear provider error, the held credits come back, nothing was fetched from the
address, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from provider_fakes import FAST, KEY, FakeBfl, FakeServer, Resp
from tests.conftest import PG_URL, fresh_pg_schema

from triptych import Triptych
from triptych.engines import registry
from triptych.engines.providers import bfl
from triptych.engines.providers.adapter import HostedFactory
from triptych.errors import JobFailed
from triptych.settings import Settings


@pytest.fixture
def victim() -> Iterator[FakeServer]:
    """Something on loopback the operator did not allow (a database, an admin port)."""
    server = FakeServer("127.0.0.1")
    server.route("GET", r"/.*", Resp(body=b"internal secrets"))
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgres"])
def tp(request: pytest.FixtureRequest, tmp_path, main_server: FakeServer,
       alt_server: FakeServer) -> Iterator[Triptych]:
    # The fake's API and CDN are allowed exactly (host and port); every other local address
    # stays refused.
    registry.register("bfl", HostedFactory(bfl.factory.engine_cls, config=FAST,
                                           trusted_hosts=("127.0.0.2",)))
    settings = Settings(home=tmp_path, _env_file=None, bfl_api_key=KEY,
                        bfl_base_url=main_server.url, upstream_allow=alt_server.allow)
    try:
        if request.param == "postgres":
            with fresh_pg_schema() as schema:
                settings.database_url = PG_URL
                triptych = Triptych(settings=settings, db_schema=schema)
                yield triptych
                triptych.db.dispose()
        else:
            yield Triptych(settings=settings)
    finally:
        registry.unregister("bfl")


def where(fake: FakeBfl, victim: FakeServer, how: str) -> str:
    if how == "redirect":
        fake.alt.route("GET", r"/files/moved\.png(\?.*)?", Resp(302, headers={
            "location": f"{victim.url}/admin"}))
        return fake.file_url("moved.png")
    return {
        "loopback": f"{victim.url}/admin",
        "numeric": f"http://2130706433:{victim.port}/admin",
        "localhost": f"http://localhost:{victim.port}/admin",
        "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "private": "http://10.0.0.7/image.png",
    }[how]


@pytest.mark.parametrize("how", ["loopback", "numeric", "localhost", "redirect", "metadata",
                                 "private"])
def test_a_refused_result_url_fails_the_job_and_refunds_it(
        tp: Triptych, main_server: FakeServer, alt_server: FakeServer, victim: FakeServer,
        how: str) -> None:
    fake = FakeBfl(main_server, alt_server)
    fake.final["result"]["sample"] = where(fake, victim, how)
    before = tp.credits(statement=False)
    with pytest.raises(JobFailed) as info:
        tp.generate("a quiet harbour at dawn", model="flux-pro", seed=1, size="1024x1024")
    assert info.value.fields["reason"] == "engine_failed"
    assert "private or local network" in info.value.message
    after = tp.credits(statement=False)
    assert (after["balance"], after["held"]) == (before["balance"], 0)  # nothing charged
    assert victim.calls == []
    assert tp.verify_ledger() == []


def test_the_allowed_cdn_still_delivers(tp: Triptych, main_server: FakeServer,
                                        alt_server: FakeServer) -> None:
    FakeBfl(main_server, alt_server)
    out = tp.generate("a quiet harbour at dawn", model="flux-pro", seed=1, size="1024x1024")
    assert len(out.paths) == 1 and out.cost > 0
