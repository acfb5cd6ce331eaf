"""Shared fixtures: a Triptych on real SQLite (or real PostgreSQL, in a private schema) with
the test engine registered and a manual clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import create_engine, text

from tests.support import shared_redis
from tests.support.fake_engine import FAKE_CARDS, FakeFactory
from tests.support.smtp_server import SmtpServer, smtp_server
from triptych.catalog.loader import Catalog
from triptych.client import Triptych
from triptych.engines import registry
from triptych.service.clock import ManualClock
from triptych.settings import Settings

PG_URL = os.environ.get("TRIPTYCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def fake_factory() -> Iterator[FakeFactory]:
    factory = FakeFactory()
    registry.register("test", factory)
    yield factory
    registry.unregister("test")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 14, 12, 0, 0))


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", _env_file=None)


@pytest.fixture
def fake_catalog() -> Catalog:
    return Catalog(list(FAKE_CARDS))


# Run a test on both databases: ``@BOTH_DBS`` makes ``tp`` (and so the web ``app``) build on
# SQLite, then on PostgreSQL in a private schema. Meant for what touches money or jobs.
BOTH_DBS = pytest.mark.parametrize("db", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def db(request) -> str:
    """Which database ``tp`` uses: SQLite unless the test is parametrised with ``BOTH_DBS``."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def tp(db, request, settings, clock, fake_factory, fake_catalog) -> Iterator[Triptych]:
    """Triptych with only the fake models, on SQLite (or PostgreSQL, see ``BOTH_DBS``)."""
    schema = None
    if db == "postgres":
        schema = request.getfixturevalue("pg_schema")  # skips where PostgreSQL is down
        settings.database_url = PG_URL
    triptych = Triptych(settings, clock=clock, catalog=fake_catalog, db_schema=schema)
    yield triptych
    triptych.db.dispose()  # PostgreSQL's connections are few: give the pool back now


@contextmanager
def fresh_pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards (skips if the server is down)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    try:
        yield schema
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_schema() -> Iterator[str]:
    with fresh_pg_schema() as schema:
        yield schema


@pytest.fixture
def pg_tp(tmp_path, clock, fake_factory, fake_catalog, pg_schema) -> Iterator[Triptych]:
    settings = Settings(home=tmp_path / "pghome", database_url=PG_URL, _env_file=None)
    triptych = Triptych(settings, clock=clock, catalog=fake_catalog, db_schema=pg_schema)
    yield triptych
    triptych.db.dispose()


@pytest.fixture
def redis_url() -> str:
    """The running Redis (skips when it is down, unless ``CI`` is set)."""
    return shared_redis.reachable_url()


@pytest.fixture
def prefix(redis_url) -> Iterator[str]:
    """A key and channel prefix of this test's own on that Redis."""
    with shared_redis.isolated_prefix(redis_url) as p:
        yield p


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it is sent."""
    with smtp_server() as server:
        yield server
