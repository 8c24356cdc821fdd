"""work item claim index: the free items of a job in the order workers claim them

Revision ID: 0021_work_item_claim_index
Revises: 0020_work_item_stage
Create Date: 2026-12-05 17:00:00

A claim takes the job's unfinished items by stage rank (expansions, top-ups, answers), then
id. Without an index in that order every claim read and sorted all unfinished items of the
job, so a job's claims cost grew with its size squared. The index holds unfinished items
only: a finished one leaves it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_work_item_claim_index"
down_revision = "0020_work_item_stage"
branch_labels = None
depends_on = None

# The same expression as store.models.WORK_ITEM_RANK (a migration keeps its own copy).
_RANK = "(CASE stage WHEN 'expand' THEN 0 WHEN 'questions' THEN 1 ELSE 2 END)"


def upgrade() -> None:
    op.create_index(
        "ix_work_items_free",
        "work_items",
        ["task_id", sa.text(_RANK), "id"],
        postgresql_where=sa.text("outcome IS NULL"),
        sqlite_where=sa.text("outcome IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_work_items_free", table_name="work_items")
