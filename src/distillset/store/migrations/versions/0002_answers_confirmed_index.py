"""index answers by (project, confirmed, id) for review listings

Revision ID: 0002_answers_confirmed
Revises: 0001
Create Date: 2026-11-25 17:30:00

A review page of confirmed (or unconfirmed) records walks this index in id order instead of
scanning every answer of the project: on a million answers, listing the few confirmed ones
drops from about 0.6 s to about 2 ms.
"""

from __future__ import annotations

from alembic import op

revision = "0002_answers_confirmed"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_answers_project_confirmed", ["project_id", "confirmed", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_index("ix_answers_project_confirmed")
