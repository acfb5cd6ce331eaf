"""Readiness checks: can this process do its work right now?

Each check is a blocking call that returns a short detail or raises; the caller runs them
side by side under one timeout (``/readyz``). Error details never include credentials.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from triptych.service import recommend
from triptych.service.redact import redact_url, scrub_password

# Each check gets this long: a probe that hangs is as bad as one that fails.
CHECK_TIMEOUT_SECONDS = 3.0


def check_database(engine: Engine) -> str:
    # A raw DBAPI connection: the engine's SQLite hook makes every SQLAlchemy transaction
    # BEGIN IMMEDIATE, and a probe must not queue behind writers for the write lock.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT 1")
        cursor.fetchone()
        cursor.close()
    finally:
        connection.close()
    return "ok"


def check_broker(url: str | None, timeout: float = CHECK_TIMEOUT_SECONDS) -> str:
    if not url:
        return "not used (embedded executor)"
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=0, timeout=timeout)
    except Exception as exc:
        # A driver may echo the URL it was given: never pass its password on.
        raise ConnectionError(scrub_password(str(exc), url)) from None
    return f"ok ({redact_url(url)})"


def check_store(store: Any) -> str:
    """The store's own ``check()`` when it has one (object storage); else its directory
    takes a file and gives it back."""
    check = getattr(store, "check", None)
    if callable(check):
        check()
        return "ok"
    root = Path(store.root)
    root.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=root, prefix=".ready-", suffix=".tmp")
    try:
        os.write(fd, b"ok")
    finally:
        os.close(fd)
        os.unlink(probe)
    return "ok"


def check_models(warming: dict[str, int]) -> str:
    """Not ready while built-in models are still loading (``TRIPTYCH_WARM_UP``): a balancer
    then sends nobody a first image that pays for loading weights."""
    if warming["ready"] < warming["of"]:
        raise RuntimeError(f"warming up built-in models: {warming['ready']} of "
                           f"{warming['of']} ready")
    return f"ok ({warming['of']} built-in models loaded)" if warming["of"] else "ok"


def check_recommender(warming: threading.Event) -> str:
    """Not ready while the recommender's sentence model loads (seconds of CPU at start)."""
    if warming.is_set():
        raise RuntimeError("loading the recommender's sentence model")
    return "ok"


def checks_for(tp: Any) -> dict[str, Callable[[], str]]:
    """The checks for a ``Triptych``: database, broker, store, models loaded."""
    with tp.ctx.sessions() as session:
        engine = session.get_bind()
    return {
        "database": lambda: check_database(engine),
        "broker": lambda: check_broker(tp.settings.broker_url),
        "store": lambda: check_store(tp.ctx.store),
        "models": lambda: check_models(tp.jobs.warming),
        "recommender": lambda: check_recommender(recommend.WARMING),
    }
