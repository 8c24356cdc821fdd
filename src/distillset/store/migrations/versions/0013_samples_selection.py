"""samples and selection: the chosen sample of a question, its agreement, its difficulty

Revision ID: 0013_samples_selection
Revises: 0012_batches
Create Date: 2026-12-05 10:30:00

A question may have several samples (answers numbered by `variant`). Selection marks one of
them `chosen` (by the judge's score, or by a majority vote on the final answer), and the
question keeps how it was chosen (`selected_by`) and, for a vote, the share of samples that
agree with the majority (`agreement`). The judge may rate a question's difficulty (1-10,
with a short reason and when). Every existing answer starts unchosen, every question unrated.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_samples_selection"
down_revision = "0012_batches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns, and one with a constant default: plain ADD COLUMNs, no table copy.
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chosen", sa.Boolean(), server_default="0", nullable=False))
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("selected_by", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("agreement", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("difficulty", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("difficulty_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Not batch mode: copying a table would fire its foreign keys' ON DELETE actions.
    for column in ("rated_at", "difficulty_reason", "difficulty", "agreement", "selected_by"):
        op.drop_column("questions", column)
    op.drop_column("answers", "chosen")
