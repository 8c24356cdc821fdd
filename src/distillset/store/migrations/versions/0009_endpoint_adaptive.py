"""model endpoints: adaptive concurrency

Revision ID: 0009_endpoint_adaptive
Revises: 0008_task_open_requests
Create Date: 2026-12-05 09:00:00

An endpoint learns how many requests it takes at once (starting low, growing while its
replies stay fast, cut on 429s, timeouts and slowdowns) under the configured maximum. On by
default, existing endpoints included; off, the maximum is used as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_endpoint_adaptive"
down_revision = "0008_task_open_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain-text default keeps this a plain ADD COLUMN on SQLite (see 0004).
    with op.batch_alter_table("model_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("adaptive", sa.Boolean(), server_default="1", nullable=False))


def downgrade() -> None:
    op.drop_column("model_endpoints", "adaptive")
