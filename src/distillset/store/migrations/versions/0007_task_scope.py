"""tasks: the item a task works on

Revision ID: 0007_task_scope
Revises: 0006_answer_prompt_sent
Create Date: 2026-12-05 08:00:00

Two tasks of one kind on one project are rivals (they would create or pay for the same
work), unless each names a different item: the sub-tags of tag 3 and of tag 7, or an answer
to question 12 and to question 40. A task without a scope (a subtree, the whole project) is
every item's rival.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_task_scope"
down_revision = "0006_answer_prompt_sent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: a plain ADD COLUMN on SQLite, no table copy.
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=60), nullable=True))


def downgrade() -> None:
    # Not batch mode: copying the table would fire its foreign keys' ON DELETE actions.
    op.drop_column("tasks", "scope")
