"""Read sessions: autocommit on PostgreSQL (no transaction opened around a look-up), and the
connection goes back to the pool as a transactional one; SQLite keeps its usual sessions."""

from __future__ import annotations

from sqlalchemy import text
from tests.conftest import PG_URL

from triptych.db import engine as engine_mod


def _in_transaction(session) -> bool:
    # now() is the transaction's start: two statements in one transaction see the same one
    first = session.execute(text("SELECT clock_timestamp(), now()")).one()
    second = session.execute(text("SELECT now()")).scalar_one()
    return second == first[1]


def test_reads_run_outside_a_transaction_on_postgresql(pg_schema):
    engine = engine_mod.make_engine(PG_URL, pg_schema=pg_schema)
    reads, sessions = (engine_mod.read_session_factory(engine),
                       engine_mod.session_factory(engine))
    with reads.begin() as s:
        assert s.connection().connection.driver_connection.autocommit
        assert not _in_transaction(s)
    with sessions.begin() as s:  # the same pooled connection, transactional again
        assert not s.connection().connection.driver_connection.autocommit
        assert _in_transaction(s)
    engine.dispose()


def test_sqlite_keeps_its_sessions(tmp_path):
    engine = engine_mod.make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    reads = engine_mod.read_session_factory(engine)
    assert reads.kw["bind"] is engine
    engine.dispose()
