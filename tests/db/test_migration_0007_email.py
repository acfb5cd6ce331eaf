"""Migration 0007: accounts that exist before it count as verified (turning verification on
later does not stop their monthly credits); the new tables come and go with it."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

from triptych.db import engine as engine_mod


def _config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(engine_mod._MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_existing_accounts_are_verified_and_the_tables_come_and_go(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0004")
        conn.execute(text("INSERT INTO users (email, role, plan, unrestricted_opt_in, "
                          "created_at) VALUES ('old@example.com', 'admin', 'free', 0, :at)"),
                     {"at": datetime(2026, 1, 2, 3, 4, 5)})
    engine_mod.migrate(engine)
    with engine.begin() as conn:
        verified = conn.execute(text("SELECT email_verified_at FROM users")).scalar_one()
        assert str(verified).startswith("2026-01-02 03:04:05")
        tables = set(inspect(conn).get_table_names())
        assert {"account_tokens", "outbox"} <= tables
        command.downgrade(_config(conn), "0004")
    with engine.begin() as conn:
        assert not {"account_tokens", "outbox"} & set(inspect(conn).get_table_names())
        assert "email_verified_at" not in {c["name"] for c in inspect(conn).get_columns("users")}
    engine.dispose()
