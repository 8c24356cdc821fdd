"""provider batches and cached input tokens

Revision ID: 0012_batches
Revises: 0011_conversations
Create Date: 2026-12-05 10:45:00

Batch mode sends requests through a provider's batch interface (half price, answered within
a day): each batch a run submits is a row, with one row per request it carries (its
custom_id is the request's cache key), so a resumed run polls the batches already paid for
instead of sending their requests again. Calls record the input tokens the provider served
from its prompt cache; endpoints get a cache-hit price and a batch discount.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_batches"
down_revision = "0011_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cached_input_tokens", sa.Integer(), nullable=True))
    with op.batch_alter_table("model_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("price_cached_input_per_m", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("batch_discount", sa.Float(), nullable=True))
    op.create_table(
        "llm_batches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "task_id", sa.Integer(), sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("endpoint_alias", sa.String(100), nullable=False),
        sa.Column("purpose", sa.String(50), nullable=False),
        sa.Column("remote_id", sa.String(200), nullable=True),
        sa.Column("input_file_id", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("remote_status", sa.String(30), nullable=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_llm_batches_task", "llm_batches", ["task_id", "status"])
    op.create_table(
        "llm_batch_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "batch_id",
            sa.Integer(),
            sa.ForeignKey("llm_batches.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("request_key", sa.String(64), nullable=False),
        sa.Column("request_body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
    )
    op.create_index("ix_llm_batch_requests_batch", "llm_batch_requests", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_llm_batch_requests_batch", table_name="llm_batch_requests")
    op.drop_table("llm_batch_requests")
    op.drop_index("ix_llm_batches_task", table_name="llm_batches")
    op.drop_table("llm_batches")
    with op.batch_alter_table("model_endpoints", schema=None) as batch_op:
        batch_op.drop_column("batch_discount")
        batch_op.drop_column("price_cached_input_per_m")
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.drop_column("cached_input_tokens")
