"""Alembic environment. Triptych applies migrations itself at start-up (``db.engine.migrate``),
passing its own connection in ``config.attributes['connection']``."""

from alembic import context

from triptych.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
        return
    _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER freely
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
