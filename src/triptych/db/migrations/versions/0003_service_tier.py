"""service tier: worker registry, job publish time

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 09:45:00

Hand-written; the worker table's model lives in ``triptych.db.service_models``.
"""

import sqlalchemy as sa
from alembic import op

import triptych.db.service_models  # noqa: F401  (puts ``workers`` on Base.metadata)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("queues", sa.JSON(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_workers_last_seen", "workers", ["last_seen"], unique=False)
    with op.batch_alter_table("jobs") as batch:
        # When the job's message was last handed to the broker (None: embedded executor, or
        # committed but not yet published); the sweeper re-publishes stale ones.
        batch.add_column(sa.Column("published_at", sa.DateTime(), nullable=True))
    op.create_index("ix_jobs_status_priority", "jobs", ["status", "priority", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_status_priority", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("published_at")
    op.drop_index("ix_workers_last_seen", table_name="workers")
    op.drop_table("workers")
