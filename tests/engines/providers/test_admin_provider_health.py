"""The admin's provider page reports what ``triptych providers check`` does, against fake
providers: a working key, a refused key (never echoed), and providers with no key."""

from __future__ import annotations

from fastapi.testclient import TestClient
from provider_fakes import KEY, FakeBfl, FakeOpenAI, FakeServer, Resp
from tests.web.conftest import fast_config
from tests.web.test_web_pages import sign_up

from triptych import Triptych
from triptych.settings import Settings
from triptych.web.app import create_app


def test_provider_page_shows_each_check(tmp_path, main_server: FakeServer,
                                        alt_server: FakeServer) -> None:
    FakeOpenAI(main_server, alt_server)
    FakeBfl(main_server, alt_server)
    main_server.route("GET", r"/v1/models", Resp(401, json={"error": {
        "message": f"Incorrect API key provided: {KEY}"}}))
    settings = Settings(home=tmp_path, _env_file=None, warm_up=False,
                        openai_api_key=KEY, openai_base_url=main_server.url,
                        bfl_api_key=KEY, bfl_base_url=main_server.url)
    tp = Triptych(settings)
    with TestClient(create_app(tp, fast_config())) as client:
        sign_up(client, "boss@example.com", "correct horse battery")
        page = client.get("/admin/providers").text
    rows = {row.split('"', 1)[0]: row for row in page.split('data-provider="')[1:]}
    assert "working" in rows["bfl"]
    assert "key refused" in rows["openai"]
    assert "not configured" in rows["replicate"] and "TRIPTYCH_REPLICATE_API_KEY" in rows[
        "replicate"]
    assert KEY not in page
    assert [c.method for c in main_server.calls] == ["GET", "GET"]  # free calls only
    tp.db.dispose()
