"""web studio: compare picks, favourite images

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 12:10:00

Hand-written; the picks table's model lives in ``triptych.db.studio_models``.
"""

import sqlalchemy as sa
from alembic import op

import triptych.db.studio_models  # noqa: F401  (puts ``picks`` on Base.metadata)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "picks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("compare_id", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=100), nullable=False),
        sa.Column("shown", sa.JSON(), nullable=False),
        sa.Column("prompt_kind", sa.String(length=32), nullable=False),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["compare_id"], ["compares.id"]),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("compare_id"),
    )
    op.create_index("ix_picks_user_id", "picks", ["user_id"], unique=False)
    op.create_index("ix_picks_model_id", "picks", ["model_id"], unique=False)
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("favourite_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.drop_column("favourite_at")
    op.drop_index("ix_picks_model_id", table_name="picks")
    op.drop_index("ix_picks_user_id", table_name="picks")
    op.drop_table("picks")
