"""/healthz, /readyz and /metrics: open to probes (no key, no rate limit), out of the OpenAPI
document; readiness names the dependency that fails; /metrics is valid Prometheus text with
request latency by route template and the database's view of the jobs."""

import socket
import threading

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.support.ports import refused_port
from tests.web.conftest import fast_config, wait_job
from triptych.client import Triptych
from triptych.db.engine import make_engine, session_factory
from triptych.settings import Settings
from triptych.web.app import create_app
from triptych.web.config import WebConfig


def metric_samples(text: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def app_for(tp: Triptych, **config):
    # No lifespan (no ``with``): readiness is about dependencies, not about the executor.
    return TestClient(create_app(tp, fast_config(**config)))


def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_on_the_embedded_default(client, tp):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["failing"] == []
    checks = body["checks"]
    assert checks["database"] == {"ok": True, "detail": "ok"}
    assert checks["broker"]["ok"] and "embedded executor" in checks["broker"]["detail"]
    assert checks["store"] == {"ok": True, "detail": "ok"}
    assert list(tp.settings.image_dir.iterdir()) == []  # the probe left nothing behind


def test_readyz_names_an_unreachable_broker_and_hides_its_password(tmp_path, clock,
                                                                    fake_catalog, fake_factory):
    with refused_port() as port:
        settings = Settings(home=tmp_path / "home", _env_file=None,
                            broker_url=f"redis://:hunter2@127.0.0.1:{port}/0")
        tp = Triptych(settings, clock=clock, catalog=fake_catalog)
        response = app_for(tp).get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready" and body["failing"] == ["broker"]
    assert body["checks"]["database"]["ok"] and body["checks"]["store"]["ok"]
    assert "hunter2" not in response.text


def redis_url() -> str:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"Redis not reachable: {exc}")
    return "redis://127.0.0.1:6379/15"


def test_readyz_passes_with_a_reachable_broker(tmp_path, clock, fake_catalog, fake_factory):
    settings = Settings(home=tmp_path / "home", _env_file=None, broker_url=redis_url())
    tp = Triptych(settings, clock=clock, catalog=fake_catalog)
    response = app_for(tp).get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["broker"]["detail"].startswith("ok (redis://")


def test_readyz_names_an_unwritable_store(tp):
    blocker = tp.settings.home / "not-a-directory"
    blocker.write_text("a file where the image directory should be")
    tp.ctx.store.root = blocker / "images"
    response = app_for(tp).get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["store"]


def test_readyz_names_an_unreachable_database(tp):
    with refused_port() as port:
        tp.ctx.sessions = session_factory(
            make_engine(f"postgresql://triptych:s3cret@127.0.0.1:{port}/triptych"))
        response = app_for(tp).get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database"] and not body["checks"]["database"]["ok"]
    assert "s3cret" not in response.text


def test_probes_are_never_rate_limited_and_not_in_the_openapi_document(tp):
    client = app_for(tp, rate_per_minute=1, rate_burst=1, auth_per_minute=1, auth_burst=1)
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


def test_metrics_exposes_request_latency_by_route_and_jobs_from_the_database(client, alice):
    job = client.post("/v1/generations", headers=alice,
                      json={"prompt": "a red circle", "model": "fake-general"}).json()
    assert wait_job(client, alice, job["id"])["status"] == "succeeded"
    assert client.get("/no/such/page").status_code == 404

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = metric_samples(response.text)
    routes = {(s.labels["route"], s.labels["method"], s.labels["status"]) for s in samples
              if s.name == "triptych_http_request_duration_seconds_count"}
    assert ("/v1/jobs/{job_id}", "GET", "2xx") in routes  # the template, not the job's id
    assert ("/v1/generations", "POST", "2xx") in routes
    assert ("unmatched", "GET", "4xx") in routes
    assert not any(job["id"] in route for route, _, _ in routes)
    jobs = {(s.labels["model"], s.labels["state"]): s.value for s in samples
            if s.name == "triptych_jobs"}
    assert jobs == {("fake-general", "succeeded"): 1}
    assert any(s.name == "triptych_job_duration_seconds_count"
               and s.labels == {"model": "fake-general", "status": "succeeded"} and s.value >= 1
               for s in samples)
    assert [s.value for s in samples if s.name == "triptych_database_up"] == [1]


def test_metrics_token_when_set(tp, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_METRICS_TOKEN", "scrape-me")  # read through Settings
    config = WebConfig.from_settings(Settings(home=tp.settings.home, _env_file=None))
    with TestClient(create_app(tp, config)) as client:
        _check_metrics_token(client)


def _check_metrics_token(client) -> None:
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert ok.status_code == 200 and "triptych_database_up" in ok.text
    assert client.get("/healthz").status_code == 200  # the probes stay open
    assert client.get("/readyz").status_code == 200


def test_an_open_event_stream_is_counted_from_its_first_byte(live, alice, fake_factory):
    """The histogram does not wait for a stream to close: an SSE request is observed as soon
    as its headers go out."""
    release = threading.Event()
    fake_factory.engine("fake-general").before_return = lambda _: release.wait(20)
    events = "/v1/jobs/{job_id}/events"

    def streams_counted(http: httpx.Client) -> float:
        return sum(s.value for s in metric_samples(http.get("/metrics").text)
                   if s.name == "triptych_http_request_duration_seconds_count"
                   and s.labels["route"] == events and s.labels["status"] == "2xx")

    try:
        with httpx.Client(base_url=live.url, headers=alice, timeout=20) as http:
            before = streams_counted(http)
            job = http.post("/v1/generations",
                            json={"prompt": "a slow circle", "model": "fake-general"}).json()
            with http.stream("GET", f"/v1/jobs/{job['id']}/events") as stream:
                assert stream.status_code == 200
                next(stream.iter_lines())  # the stream is open and the job still runs
                assert streams_counted(http) == before + 1
    finally:
        release.set()
