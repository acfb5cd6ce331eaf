"""Autocommit sessions: on PostgreSQL no transaction is opened around their statements, and
the connection goes back to the pool transactional; SQLite keeps its usual sessions."""

from __future__ import annotations

from sqlalchemy import text
from tests.conftest import PG_URL

from triptych.db import engine as engine_mod


def _in_transaction(session) -> bool:
    # now() is the transaction's start: two statements in one transaction see the same one
    first = session.execute(text("SELECT clock_timestamp(), now()")).one()
    second = session.execute(text("SELECT now()")).scalar_one()
    return second == first[1]


def test_statements_run_outside_a_transaction_on_postgresql(pg_schema):
    engine = engine_mod.make_engine(PG_URL, pg_schema=pg_schema)
    autocommit = engine_mod.autocommit_session_factory(engine)
    sessions = engine_mod.session_factory(engine)
    with autocommit.begin() as s:
        assert s.connection().connection.driver_connection.autocommit
        assert not _in_transaction(s)
    with sessions.begin() as s:  # the same pooled connection, transactional again
        assert not s.connection().connection.driver_connection.autocommit
        assert _in_transaction(s)
    engine.dispose()


def test_sqlite_keeps_its_sessions(tmp_path):
    engine = engine_mod.make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    autocommit = engine_mod.autocommit_session_factory(engine)
    assert autocommit.kw["bind"] is engine
    engine.dispose()
