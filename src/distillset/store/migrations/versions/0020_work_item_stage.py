"""work item stage: a shared job's items are expansions and question top-ups too, not only answers

Revision ID: 0020_work_item_stage
Revises: 0016_record_history
Create Date: 2026-12-05 14:00:00

Each item says its stage (expand, questions, answer) and, once finished, how many rows it
made and how many it could not; an item is unique per (task, stage, target). Work items only
live while a shared job runs, and a run plans its items again when it starts or resumes, so
the table is made anew rather than altered (which SQLite could only do by copying it).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0020_work_item_stage"
down_revision = "0019_rate_buckets"
branch_labels = None
depends_on = None


def _create(*, staged: bool) -> None:
    columns: list[sa.Column[Any]] = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
    ]
    if staged:
        columns.append(sa.Column("stage", sa.String(length=10), nullable=False))
    columns += [
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
    ]
    if staged:
        columns += [
            sa.Column("made", sa.Integer(), nullable=True),
            sa.Column("short", sa.Integer(), nullable=True),
        ]
    unique = (
        sa.UniqueConstraint("task_id", "stage", "target", name="uq_work_items_item")
        if staged
        else sa.UniqueConstraint("task_id", "target")
    )
    op.create_table(
        "work_items",
        *columns,
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        unique,
    )
    op.create_index("ix_work_items_open", "work_items", ["task_id", "outcome", "lease_until"])


def _drop() -> None:
    op.drop_index("ix_work_items_open", table_name="work_items")
    op.drop_table("work_items")


def upgrade() -> None:
    _drop()
    _create(staged=True)


def downgrade() -> None:
    _drop()
    _create(staged=False)
