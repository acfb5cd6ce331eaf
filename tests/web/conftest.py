"""Fixtures for the HTTP layer: the app on the shared ``tp`` (fake engines; SQLite, or SQLite
then PostgreSQL for a test marked ``BOTH_DBS`` from ``tests.conftest``: those that move credits
or jobs), a TestClient, API keys made the way ``triptych keys create`` makes them, and a live
uvicorn server on 127.0.0.1 for the official ``openai`` client, SSE and the browser."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support.ports import free_port
from triptych.client import Triptych
from triptych.web.app import create_app
from triptych.web.config import WebConfig

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright drives it, nothing is downloaded
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One headless Chromium per test module. Playwright allows one sync driver at a time,
    and while it runs its event loop owns the main thread: stopping it at the end of the
    module leaves later modules free to use asyncio.run."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def fast_config(**overrides) -> WebConfig:
    """Cheap Argon2id (still Argon2id) and generous limits unless a test says otherwise."""
    base = dict(secret_key="test-secret", password_time_cost=1, password_memory_kib=1024,
                password_parallelism=1, rate_per_minute=6000, rate_burst=1000,
                auth_per_minute=6000, auth_burst=1000, workers=2,
                signup_per_address=1000, signup_per_network=1000)
    base.update(overrides)
    return WebConfig(**base)


@pytest.fixture
def web_config() -> WebConfig:
    return fast_config()


@pytest.fixture
def app(tp: Triptych, web_config: WebConfig) -> FastAPI:
    return create_app(tp, web_config)


@pytest.fixture(autouse=True, scope="session")
def _recommender_loaded() -> None:
    """Load the recommender's sentence model once per test process, so no app's /readyz
    waits on it (a server loads it at start and is not ready until then)."""
    from triptych.service import recommend

    recommend.warm_up()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:  # runs the lifespan: the executor's workers start
        yield c


def make_key(tp: Triptych, email: str, *, admin: bool = False) -> dict[str, str]:
    """An account (created on first use) and a fresh API key, as Authorization headers."""
    user_id = tp.as_user(email).user_id
    from triptych.db.models import User

    if admin:
        with tp.ctx.sessions.begin() as s:
            s.get(User, user_id).role = "admin"
    _, secret = tp.accounts.create_key(user_id, "test")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def alice(tp: Triptych) -> dict[str, str]:
    return make_key(tp, "alice@example.com")


@pytest.fixture
def bob(tp: Triptych) -> dict[str, str]:
    return make_key(tp, "bob@example.com")


def wait_job(client: TestClient, headers: dict[str, str], job_id: str,
             timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_server(app: FastAPI) -> LiveServer:
    port = free_port()
    # proxy_headers=False, as `triptych serve` runs it: the app alone reads X-Forwarded-For.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            timeout_graceful_shutdown=2, lifespan="on", proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="uvicorn-test")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", app, server, thread)


@pytest.fixture
def live(app: FastAPI) -> Iterator[LiveServer]:
    server = start_server(app)
    yield server
    server.stop()
