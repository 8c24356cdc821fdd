"""answers: the prompt the teacher was sent; questions: the attempt of the next answer

Revision ID: 0006_answer_prompt_sent
Revises: 0005_answer_scored_at
Create Date: 2026-12-05 05:00:00

An answer keeps the system prompt, the rendered prompt and the sampling parameters it was
asked with, so an export gives each record what its teacher really saw. Answers stored before
this revision have none of them and keep exporting the project's system prompt.

A question counts the attempt number of its next answer request: deleting its answer moves it
on, so a new answer is asked fresh rather than replayed from the response cache.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_answer_prompt_sent"
down_revision = "0005_answer_scored_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns, and one with a constant default: plain ADD COLUMNs, no table copy.
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("system_prompt", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("prompt", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("sampling", sa.JSON(), nullable=True))
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("answer_attempt", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    # Not batch mode: copying the table would fire its foreign keys' ON DELETE actions.
    op.drop_column("questions", "answer_attempt")
    op.drop_column("answers", "sampling")
    op.drop_column("answers", "prompt")
    op.drop_column("answers", "system_prompt")
