"""rate buckets: per-minute limits (requests, tokens) that hold across the workers of a database

Revision ID: 0019_rate_buckets
Revises: 0016_record_history
Create Date: 2026-12-05 13:45:00

A new table only: a bucket is created, full, when a worker first draws from it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_rate_buckets"
down_revision = "0018_usage_rollup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
