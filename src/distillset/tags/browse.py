"""Read queries of the lazy tree: one level of children at a time, with per-node counts.

Counts are per node (direct sub-tags, the tag's own questions and how many are answered), read
with three grouped queries over the page's ids, so a page costs the same at any tree size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select, tuple_
from sqlalchemy.orm import Session

from distillset.domain import MAX_ID, InvalidInputError
from distillset.store import Answer, Question, Tag

TREE_PAGE_SIZE = 200
# A page's `next`: "position:id" of the last node shown.
CURSOR_PATTERN = r"^\d+:\d+$"


@dataclass
class TagRow:
    id: int
    parent_id: int | None
    label: str
    position: int
    depth: int
    origin: str
    children: int = 0
    questions: int = 0
    answered: int = 0
    # Set when the node is rendered open, with its first page of children.
    child_rows: list[TagRow] | None = None
    next_cursor: str | None = None

    @property
    def cursor(self) -> str:
        return f"{self.position}:{self.id}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent_id": self.parent_id,
            "label": self.label,
            "position": self.position,
            "depth": self.depth,
            "origin": self.origin,
            "children": self.children,
            "questions": self.questions,
            "answered": self.answered,
        }


def parse_cursor(cursor: str | None) -> tuple[int, int] | None:
    if not cursor:
        return None
    position, _, tag_id = cursor.partition(":")
    # Length first: int() refuses more than 4300 digits with an error of its own.
    too_long = max(len(position), len(tag_id)) > len(str(MAX_ID))
    if too_long or max(int(position), int(tag_id)) > MAX_ID:
        raise InvalidInputError(f"after: {cursor[:40]!r} is not a cursor of this listing")
    return int(position), int(tag_id)


def _counts(session: Session, stmt: Any) -> dict[int, int]:
    return {key: int(value) for key, value in session.execute(stmt).all()}


def child_rows(
    session: Session,
    project_id: int,
    parent_id: int | None,
    *,
    after: tuple[int, int] | None = None,
    limit: int = TREE_PAGE_SIZE,
) -> list[TagRow]:
    """One page of a node's children in position order, continuing after a (position, id)."""
    stmt = select(Tag.id, Tag.parent_id, Tag.label, Tag.position, Tag.depth, Tag.origin).where(
        Tag.project_id == project_id,
        Tag.parent_id.is_(None) if parent_id is None else Tag.parent_id == parent_id,
    )
    if after is not None:
        stmt = stmt.where(tuple_(Tag.position, Tag.id) > tuple_(*after))
    rows = [
        TagRow(*row) for row in session.execute(stmt.order_by(Tag.position, Tag.id).limit(limit))
    ]
    add_counts(session, rows)
    return rows


def add_counts(session: Session, rows: list[TagRow]) -> None:
    ids = [row.id for row in rows]
    if not ids:
        return
    sub_tags = _counts(
        session,
        select(Tag.parent_id, func.count()).where(Tag.parent_id.in_(ids)).group_by(Tag.parent_id),
    )
    questions = _counts(
        session,
        select(Question.tag_id, func.count())
        .where(Question.tag_id.in_(ids))
        .group_by(Question.tag_id),
    )
    answered = _counts(
        session,
        select(Question.tag_id, func.count())
        .where(
            Question.tag_id.in_(ids),
            exists().where(Answer.question_id == Question.id),
        )
        .group_by(Question.tag_id),
    )
    for row in rows:
        row.children = sub_tags.get(row.id, 0)
        row.questions = questions.get(row.id, 0)
        row.answered = answered.get(row.id, 0)


def rows_by_id(session: Session, project_id: int, ids: list[int]) -> list[TagRow]:
    """The project's tags among these ids with their counts (the nodes a page shows)."""
    stmt = select(Tag.id, Tag.parent_id, Tag.label, Tag.position, Tag.depth, Tag.origin).where(
        Tag.project_id == project_id, Tag.id.in_(ids)
    )
    rows = [TagRow(*row) for row in session.execute(stmt)] if ids else []
    add_counts(session, rows)
    return rows


def tag_row(session: Session, tag: Tag) -> TagRow:
    row = TagRow(tag.id, tag.parent_id, tag.label, tag.position, tag.depth, tag.origin)
    add_counts(session, [row])
    return row


def next_cursor(rows: list[TagRow], limit: int) -> str | None:
    return rows[-1].cursor if len(rows) == limit else None


def expanded_row(session: Session, tag: Tag) -> TagRow:
    """A node with its counts and first page of children, for re-rendering it open."""
    row = tag_row(session, tag)
    row.child_rows = child_rows(session, tag.project_id, tag.id)
    row.next_cursor = next_cursor(row.child_rows, TREE_PAGE_SIZE)
    return row
