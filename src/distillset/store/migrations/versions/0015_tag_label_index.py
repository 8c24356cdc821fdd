"""an index on (project_id, label_key) of tags: the tree's search by the start of a label

Revision ID: 0015_tag_label_index
Revises: 0014_workers
Create Date: 2026-12-05 10:30:00

The workbench finds a tag by part of its label; labels that start with the typed text come
first, read as a range of this index instead of a scan of a 100,000-tag project.
"""

from __future__ import annotations

from alembic import op

revision = "0015_tag_label_index"
down_revision = "0014_workers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tags_project_label", "tags", ["project_id", "label_key"])


def downgrade() -> None:
    op.drop_index("ix_tags_project_label", table_name="tags")
