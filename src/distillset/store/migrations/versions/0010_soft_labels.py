"""soft labels: an endpoint's logprobs setting, the exact generated text, the soft labels table

Revision ID: 0010_soft_labels
Revises: 0009_endpoint_adaptive
Create Date: 2026-12-08 10:00:00

An endpoint can ask for the top-K log-probabilities of every generated token (`logprobs`, 0:
off, the setting of every existing endpoint) and name the tokenizer its ids belong to. An
answer keeps the text exactly as generated with the offsets of its answer and reasoning, and
says what became of the soft labels asked for; the soft labels themselves live in their own
table, one packed row per answer. Answers stored before this revision have none of these.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_soft_labels"
down_revision = "0009_endpoint_adaptive"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns, and one with a constant default: plain ADD COLUMNs, no table copy
    # (copying model_endpoints would null every project's models through ON DELETE SET NULL).
    with op.batch_alter_table("model_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("logprobs", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("tokenizer", sa.String(length=200), nullable=True))
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raw_content", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("raw_reasoning", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("text_spans", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("soft_label_status", sa.String(length=20), nullable=True))
    op.create_table(
        "soft_labels",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("has_ids", sa.Boolean(), nullable=False),
        sa.Column("answer_start", sa.Integer(), nullable=True),
        sa.Column("tokenizer", sa.JSON(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("answer_id"),
    )


def downgrade() -> None:
    # Not batch mode: copying a table would fire its foreign keys' ON DELETE actions.
    op.drop_table("soft_labels")
    op.drop_column("answers", "soft_label_status")
    op.drop_column("answers", "text_spans")
    op.drop_column("answers", "raw_reasoning")
    op.drop_column("answers", "raw_content")
    op.drop_column("model_endpoints", "tokenizer")
    op.drop_column("model_endpoints", "logprobs")
