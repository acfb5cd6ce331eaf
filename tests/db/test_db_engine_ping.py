"""A pooled PostgreSQL connection that rested is checked before use, so a database restart
(here: the server ending the connection) costs no request; one in steady use is not."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from tests.conftest import PG_URL

from triptych.db import engine as engine_mod


def _pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_rested_connection_the_server_ended_is_replaced(pg_schema, monkeypatch):
    engine = engine_mod.make_engine(PG_URL, pg_schema=pg_schema)
    first = _pid(engine)  # one pooled connection, now resting
    with create_engine(PG_URL, isolation_level="AUTOCOMMIT").connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
    monkeypatch.setattr(engine_mod, "PING_AFTER_IDLE", 0.0)  # it has rested long enough
    assert _pid(engine) != first  # a fresh connection answered; no error reached us
    engine.dispose()


def test_a_connection_in_use_is_not_pinged(pg_schema, monkeypatch):
    """Within the rest period no ping is spent: a connection the server ended just now fails
    its one statement (and the pool starts afresh), the trade for no round trip per use."""
    engine = engine_mod.make_engine(PG_URL, pg_schema=pg_schema)
    first = _pid(engine)
    with create_engine(PG_URL, isolation_level="AUTOCOMMIT").connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
    monkeypatch.setattr(engine_mod, "PING_AFTER_IDLE", 3600.0)
    with pytest.raises(DBAPIError):
        _pid(engine)
    assert _pid(engine) != first
    engine.dispose()
