"""tasks: how many requests the run that owns it may have out

Revision ID: 0008_task_open_requests
Revises: 0007_task_scope
Create Date: 2026-12-05 08:30:00

A run that was stopped (SIGSTOP, a frozen machine) and taken over can still have requests
open at the model server. The run writes an upper bound of its requests out before it sends
more than it last wrote, so the run that takes its task over keeps that many slots of the
project's concurrency free while the stopped process may still be alive.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_task_open_requests"
down_revision = "0007_task_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: a plain ADD COLUMN on SQLite, no table copy.
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("open_requests", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Not batch mode: copying the table would fire its foreign keys' ON DELETE actions.
    op.drop_column("tasks", "open_requests")
