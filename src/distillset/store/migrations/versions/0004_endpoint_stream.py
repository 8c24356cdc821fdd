"""model endpoints: a stream setting

Revision ID: 0004_endpoint_stream
Revises: 0003_text_search
Create Date: 2026-11-26 10:00:00

An endpoint can ask for its answers streamed (server-sent chunks, reassembled into the same
result), so a long answer keeps the connection busy instead of idling out a proxy. Existing
endpoints keep non-streamed requests.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_endpoint_stream"
down_revision = "0003_text_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain-text default keeps this a plain ADD COLUMN on SQLite: an expression default
    # (sa.false()) makes batch mode copy the table, and dropping the old copy would set every
    # project's question and answer model to NULL through their ON DELETE SET NULL keys.
    with op.batch_alter_table("model_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stream", sa.Boolean(), server_default="0", nullable=False))


def downgrade() -> None:
    # Not batch mode, for the same reason: SQLite 3.35+ drops a column in place.
    op.drop_column("model_endpoints", "stream")
