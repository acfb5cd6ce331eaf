"""The payments tables as migration 0006 makes them match their models
(``db/payment_models.py``), and the migration goes down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from triptych.db import payment_models
from triptych.db.engine import _MIGRATIONS, make_engine, migrate
from triptych.db.models import Base

TABLES = {"stripe_events", "payments", "subscriptions"}


def _names(part) -> set[str]:
    """The table names one element of a change speaks of."""
    if isinstance(part, str):
        return {part}
    table = getattr(part, "table", part)
    return {getattr(table, "name", None)} - {None}


def _diff(engine):
    """What autogenerate would change on the payments tables (others are not ours)."""
    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    flat = [i for change in found for i in (change if isinstance(change, list) else [change])]
    return [item for item in flat
            if any(_names(part) & TABLES for part in item[1:] if part is not None)]


def test_models_match_migration_and_it_goes_down_and_up(tmp_path):
    assert payment_models.Payment.__tablename__ in TABLES
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
    assert _diff(engine) == []
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()
