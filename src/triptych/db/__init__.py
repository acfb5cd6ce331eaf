"""Persistence: SQLAlchemy 2 models, engine setup and self-applying Alembic migrations."""
