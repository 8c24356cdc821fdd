"""workers: shared jobs' work items, the project's slot leases, project budget, learned limit

Revision ID: 0014_workers
Revises: 0013_samples_selection
Create Date: 2026-12-05 10:30:00

Several workers share one job on PostgreSQL: its items are rows a worker claims (with a lease
that another worker may take once it runs out), the project's request slots are rows a worker
leases, and the workers of a job say they are alive. A project may set the budget of the
tasks started without one, and an endpoint keeps the concurrency its adaptive limit learned.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_workers"
down_revision = "0013_samples_selection"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns: plain ADD COLUMNs, no table copy (a copy would fire ON DELETE actions).
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_cost", sa.Float(), nullable=True))
    with op.batch_alter_table("model_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("learned_concurrency", sa.Integer(), nullable=True))
    op.create_table(
        "work_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "target"),
    )
    op.create_index("ix_work_items_open", "work_items", ["task_id", "outcome", "lease_until"])
    op.create_table(
        "slot_leases",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "slot"),
    )
    op.create_table(
        "task_workers",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "owner"),
    )


def downgrade() -> None:
    # Not batch mode: copying a table would fire its foreign keys' ON DELETE actions.
    op.drop_table("task_workers")
    op.drop_table("slot_leases")
    op.drop_index("ix_work_items_open", table_name="work_items")
    op.drop_table("work_items")
    op.drop_column("model_endpoints", "learned_concurrency")
    op.drop_column("projects", "max_cost")
