"""Migration 0005 (operators) matches the models — the tables and columns it adds have the
types, nullability and indexes the ORM declares — and reverts cleanly, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from tests.conftest import BOTH_DBS

from triptych.db import engine as db_engine
from triptych.db.models import Base

ADDED = {"model_overrides": None, "audit_log": None, "users": {"disabled_at"},
         "api_keys": {"monthly_cap"}, "jobs": {"api_key_id"}}


def _ours(diff) -> bool:
    """A difference about something this migration adds."""
    text = repr(diff)
    return any(name in text for name in ("model_overrides", "audit_log", "disabled_at",
                                         "monthly_cap", "api_key_id"))


@BOTH_DBS
def test_the_schema_matches_the_models(tp) -> None:
    import triptych.db.operator_models  # noqa: F401

    with tp.db.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(context, Base.metadata) if _ours(d)]
    assert diffs == []


@BOTH_DBS
def test_down_and_up_again(tp) -> None:
    config = Config()
    config.set_main_option("script_location", str(db_engine._MIGRATIONS))
    with tp.db.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    inspector = inspect(tp.db)
    assert not {"model_overrides", "audit_log"} & set(inspector.get_table_names())
    assert "monthly_cap" not in {c["name"] for c in inspector.get_columns("api_keys")}
    db_engine.migrate(tp.db)
    inspector = inspect(tp.db)
    for table, columns in ADDED.items():
        assert table in inspector.get_table_names()
        if columns:
            assert columns <= {c["name"] for c in inspector.get_columns(table)}
