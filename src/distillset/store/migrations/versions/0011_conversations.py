"""conversations: multi-turn records, their turns, the project's multi-turn setting

Revision ID: 0011_conversations
Revises: 0010_soft_labels
Create Date: 2026-12-05 10:40:00

A conversation is a dataset record of its own (one per question) whose turns live in their
own table, so single records are untouched and each finished turn is committed on its own.
A project's multi-turn setting (scenario, roles, rounds, system prompt, the model that plays
the user) is a row of its own table (none: the defaults); an endpoint says whether reasoning
goes back in a conversation's history (NULL: what its preset needs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_conversations"
down_revision = "0010_soft_labels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: a plain ADD COLUMN, no table copy (copying a table would fire its
    # foreign keys' ON DELETE actions).
    with op.batch_alter_table("model_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reasoning_in_history", sa.Boolean(), nullable=True))
    op.create_table(
        "conversation_settings",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.Text(), nullable=True),
        sa.Column("user_role", sa.String(length=200), nullable=True),
        sa.Column("assistant_role", sa.String(length=200), nullable=True),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=True),
        sa.Column("user_model_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_model_id"], ["model_endpoints.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("project_id"),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("setting", sa.JSON(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("score_reason", sa.Text(), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", name="uq_conversations_question"),
    )
    op.create_index("ix_conversations_project_id", "conversations", ["project_id", "id"])
    op.create_table(
        "conversation_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("finish_reason", sa.String(length=30), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "position", name="uq_conversation_turns_position"),
    )


def downgrade() -> None:
    op.drop_table("conversation_turns")
    op.drop_index("ix_conversations_project_id", table_name="conversations")
    op.drop_table("conversations")
    op.drop_table("conversation_settings")
    op.drop_column("model_endpoints", "reasoning_in_history")
