"""record history: the earlier texts of a record, kept when a refine, restore or edit replaces them

Revision ID: 0016_record_history
Revises: 0015_tag_label_index
Create Date: 2026-12-05 10:40:00

A new table only: existing records start with no history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_record_history"
down_revision = "0015_tag_label_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("answer_id", "version", name="uq_record_history_version"),
    )
    op.create_index("ix_record_history_task", "record_history", ["task_id", "answer_id"])


def downgrade() -> None:
    op.drop_index("ix_record_history_task", table_name="record_history")
    op.drop_table("record_history")
