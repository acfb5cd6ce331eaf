"""operators: catalog overrides, audit log, disabled users, API key spend caps

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 16:30:00

Hand-written; the new tables' models live in ``triptych.db.operator_models``.
"""

import sqlalchemy as sa
from alembic import op

import triptych.db.operator_models  # noqa: F401  (puts the tables on Base.metadata)

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_overrides",
        sa.Column("model_id", sa.String(length=100), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=False),
        sa.PrimaryKeyConstraint("model_id"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=320), nullable=False),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_action", "audit_log", ["action"], unique=False)
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("monthly_cap", sa.Integer(), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("api_key_id", sa.String(length=32), nullable=True))
    op.create_index("ix_jobs_api_key_id", "jobs", ["api_key_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_jobs_api_key_id", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("api_key_id")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("monthly_cap")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled_at")
    op.drop_index("ix_audit_log_action", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("model_overrides")
