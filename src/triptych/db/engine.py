"""Database engine setup and self-applying migrations.

SQLite (the embedded default) runs every transaction as ``BEGIN IMMEDIATE`` with WAL and a
busy timeout: writers queue instead of failing with "database is locked", and a read-then-
write transaction cannot deadlock on a lock upgrade. A database still locked after the busy
timeout (``Settings.sqlite_busy_seconds``; another process holds it) is ``DatabaseBusy``: the
API answers 503 with ``Retry-After`` and the CLI says so, rather than a 500 or a traceback.
PostgreSQL uses READ COMMITTED; the ledger's conditional UPDATEs keep balances non-negative
there.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from triptych.errors import TriptychError
from triptych.private_files import private_sqlite

_MIGRATIONS = Path(__file__).parent / "migrations"
_migrate_lock = threading.Lock()
_MIGRATE_KEY = 0x7472_6D67  # "trmg": the advisory lock migrations hold on PostgreSQL
# SQLite's words for a lock it waited on for the whole busy timeout.
_BUSY = re.compile(r"database( table)? is (locked|busy)", re.IGNORECASE)


class DatabaseBusy(TriptychError):
    code = "database_busy"
    http_status = 503
    retry_after = 2  # seconds, sent as Retry-After

    def __init__(self) -> None:
        super().__init__("The database is busy; retry in a few seconds.")


def as_busy(exc: BaseException) -> DatabaseBusy | None:
    """``DatabaseBusy`` for an error that says the database stayed locked, else None."""
    if isinstance(exc, OperationalError) and _BUSY.search(str(exc.orig)):
        return DatabaseBusy()
    return None


@contextmanager
def busy_as_error() -> Iterator[None]:
    """Re-raise a locked database as ``DatabaseBusy`` (for callers that render Triptych
    errors, such as the CLI)."""
    try:
        yield
    except OperationalError as exc:
        busy = as_busy(exc)
        if busy is None:
            raise
        raise busy from exc


def make_engine(url: str, *, pg_schema: str | None = None,
                sqlite_busy_seconds: float = 10.0) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            private_sqlite(Path(path))  # password and key hashes live here: 0600
        engine = create_engine(url, connect_args={"check_same_thread": False,
                                                  "timeout": sqlite_busy_seconds})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives an application crash (what recovery relies on);
            # only an OS crash or power loss can drop the last transactions. FULL would fsync
            # every one of a job's few commits.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(sqlite_busy_seconds * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    connect_args = {"options": f"-csearch_path={pg_schema}"} if pg_schema else {}
    engine = create_engine(url, pool_size=10, max_overflow=20, connect_args=connect_args)
    _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE = 10.0  # seconds a pooled connection may rest before it is checked


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it has rested a while (a database
    restart shows up there), not on every checkout: a ping is a round trip, and a job takes
    three connections. A connection that fails its ping is replaced, not handed out."""

    @event.listens_for(engine, "checkin")
    def _rested(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            with dbapi_conn.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as exc:
            raise DisconnectionError(f"a pooled connection went stale: {exc}") from exc


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with _migrate_lock, engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Processes starting together on one database: one migrates, the others wait
            # for it and then find nothing to do (released at commit).
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def autocommit_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for work that needs no transaction of its own: one statement, or statements
    that may each see the latest commit. On PostgreSQL they run in autocommit, with no BEGIN
    and COMMIT round trips around a hot path's one statement; SQLite, where a lone statement
    gains nothing from it, keeps its usual sessions."""
    if engine.dialect.name != "postgresql":
        return session_factory(engine)
    return sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"),
                        expire_on_commit=False)
