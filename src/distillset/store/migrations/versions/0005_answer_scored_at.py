"""answers: when the score was given

Revision ID: 0005_answer_scored_at
Revises: 0004_endpoint_stream
Create Date: 2026-11-30 20:00:00

A rescore task judges again every record its filter selects; the moment each score was given
tells it which records it has already scored when it is resumed. Scores given before this
revision have no moment, so they count as older than any rescore.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_answer_scored_at"
down_revision = "0004_endpoint_stream"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: a plain ADD COLUMN on SQLite, no table copy.
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scored_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Not batch mode: copying the table would fire its foreign keys' ON DELETE actions.
    op.drop_column("answers", "scored_at")
