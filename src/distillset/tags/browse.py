"""Read queries of the lazy tree: one level of children at a time, with per-node counts.

Counts are per node (direct sub-tags, the tag's own questions and how many are answered), and
per subtree (all descendants, their questions and answered questions, the tag's own
included). The database keeps both for every tag (TagCounts, up to date on every write), so
a page's counts are two small queries over its ids and cost the same at any tree size.
Search finds tags by part of a label or of a path, bounded, prefix matches from an index first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, select, tuple_
from sqlalchemy.orm import Session

from distillset.domain import MAX_ID, InvalidInputError, normalize_text
from distillset.store import Tag, TagCounts, TagPaths

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
    # The whole subtree below the tag (descendants, and questions of the tag and descendants).
    subtree_tags: int = 0
    subtree_questions: int = 0
    subtree_answered: int = 0
    subtree_known: bool = False  # the three above were read (add_subtree_counts)
    # Set when the node is rendered open, with its first page of children.
    child_rows: list[TagRow] | None = None
    next_cursor: str | None = None
    # Set when the open node's children are listed from a later page (a jump to a tag).
    children_from_start: bool = True

    @property
    def cursor(self) -> str:
        return f"{self.position}:{self.id}"

    def as_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = {
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
        if self.subtree_known:
            values.update(
                subtree_tags=self.subtree_tags,
                subtree_questions=self.subtree_questions,
                subtree_answered=self.subtree_answered,
            )
        return values


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
    own = {
        tag_id: (int(questions), int(answered))
        for tag_id, questions, answered in session.execute(
            select(TagCounts.tag_id, TagCounts.questions, TagCounts.answered).where(
                TagCounts.tag_id.in_(ids)
            )
        )
    }
    for row in rows:
        row.children = sub_tags.get(row.id, 0)
        row.questions, row.answered = own.get(row.id, (0, 0))


def add_subtree_counts(session: Session, rows: list[TagRow]) -> None:
    """Descendants, questions and answered questions under each row, the row's own included."""
    ids = [row.id for row in rows]
    if not ids:
        return
    totals = {
        tag_id: (int(tags), int(questions), int(answered))
        for tag_id, tags, questions, answered in session.execute(
            select(
                TagCounts.tag_id,
                TagCounts.subtree_tags,
                TagCounts.subtree_questions,
                TagCounts.subtree_answered,
            ).where(TagCounts.tag_id.in_(ids))
        )
    }
    for row in rows:
        row.subtree_tags, row.subtree_questions, row.subtree_answered = totals.get(
            row.id, (0, 0, 0)
        )


def rows_by_id(session: Session, project_id: int, ids: list[int]) -> list[TagRow]:
    """The project's tags among these ids with their counts (the nodes a page shows)."""
    stmt = select(Tag.id, Tag.parent_id, Tag.label, Tag.position, Tag.depth, Tag.origin).where(
        Tag.project_id == project_id, Tag.id.in_(ids)
    )
    rows = [TagRow(*row) for row in session.execute(stmt)] if ids else []
    add_counts(session, rows)
    return rows


def tag_row(session: Session, tag: Tag) -> TagRow:
    """One tag with its own and its subtree's counts (what its panel shows)."""
    row = TagRow(tag.id, tag.parent_id, tag.label, tag.position, tag.depth, tag.origin)
    add_counts(session, [row])
    add_subtree_counts(session, [row])
    return row


def next_cursor(rows: list[TagRow], limit: int) -> str | None:
    return rows[-1].cursor if len(rows) == limit else None


def expanded_row(session: Session, tag: Tag) -> TagRow:
    """A node with its counts and first page of children, for re-rendering it open."""
    row = tag_row(session, tag)
    row.child_rows = child_rows(session, tag.project_id, tag.id)
    row.next_cursor = next_cursor(row.child_rows, TREE_PAGE_SIZE)
    return row


def _level(
    session: Session, project_id: int, parent_id: int | None, node: Tag
) -> tuple[list[TagRow], bool]:
    """A level listed so that it shows ``node``: its first page when the node is on it, else
    the page that starts at the node (and False: earlier siblings are not shown)."""
    rows = child_rows(session, project_id, parent_id)
    if any(row.id == node.id for row in rows):
        return rows, True
    return child_rows(session, project_id, parent_id, after=(node.position, node.id - 1)), False


def revealed_rows(session: Session, tag: Tag) -> tuple[list[TagRow], bool]:
    """The top level with the tag's ancestors open down to it, each level showing the path's
    node: what a jump to a tag renders. Also whether the top level starts at its first tag."""
    chain = [tag]
    while chain[-1].parent_id is not None:
        parent = session.get(Tag, chain[-1].parent_id)
        if parent is None:
            break
        chain.append(parent)
    chain.reverse()
    top, from_start = _level(session, tag.project_id, None, chain[0])
    rows = top
    for ancestor, below in zip(chain, chain[1:], strict=False):
        row = next(row for row in rows if row.id == ancestor.id)
        row.child_rows, row.children_from_start = _level(
            session, tag.project_id, ancestor.id, below
        )
        row.next_cursor = next_cursor(row.child_rows, TREE_PAGE_SIZE)
        rows = row.child_rows
    return top, from_start


@dataclass
class TagMatch:
    id: int
    path: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path}


MAX_SEARCH_RESULTS = 50
# Tags read per part of a path query before their paths are checked.
_PATH_CANDIDATES = 500


def search_tags(session: Session, project_id: int, text: str, *, limit: int = 20) -> list[TagMatch]:
    """Tags whose label contains the text (ignoring case), labels starting with it first; with
    `A > B`, tags whose label contains B under an ancestor that contains A. Bounded: at most
    ``limit`` results, read from at most a few hundred rows."""
    limit = max(1, min(limit, MAX_SEARCH_RESULTS))
    parts = [part for part in (normalize_text(piece) for piece in text.split(">")) if part]
    if not parts:
        return []
    last, ancestors = parts[-1], parts[:-1]
    wanted = _PATH_CANDIDATES if ancestors else limit
    base = select(Tag.id, Tag.label_key).where(Tag.project_id == project_id)
    # A range on (project_id, label_key) is served by an index; the substring scan stops at
    # its limit.
    prefixed = session.execute(
        base.where(Tag.label_key >= last, Tag.label_key < last + "\U0010ffff")
        .order_by(Tag.label_key, Tag.id)
        .limit(wanted)
    ).all()
    ids = [tag_id for tag_id, key in prefixed if key.startswith(last)]
    if len(ids) < wanted:
        contained = session.scalars(
            select(Tag.id)
            .where(
                Tag.project_id == project_id,
                Tag.label_key.contains(last, autoescape=True),
                Tag.id.not_in(ids) if ids else literal(True),
            )
            .order_by(Tag.id)
            .limit(wanted - len(ids))
        )
        ids.extend(contained)
    paths = TagPaths(session)
    paths.load(ids)
    matches = []
    for tag_id in ids:
        labels = paths.labels(tag_id)
        if ancestors and not _in_order(ancestors, [normalize_text(x) for x in labels[:-1]]):
            continue
        matches.append(TagMatch(tag_id, paths.path(tag_id)))
        if len(matches) == limit:
            break
    return matches


def _in_order(parts: list[str], labels: list[str]) -> bool:
    """Each part is inside one of the labels, in the labels' order."""
    position = 0
    for part in parts:
        while position < len(labels) and part not in labels[position]:
            position += 1
        if position == len(labels):
            return False
        position += 1
    return True


# At most this many nodes are rendered open again after an edit (what a page shows open).
MAX_OPEN_NODES = 100


def open_rows(session: Session, project_id: int, rows: list[TagRow], open_ids: set[int]) -> None:
    """Open again the rows (and rows below them) whose ids are in ``open_ids``, each with the
    first page of its children: a tree re-rendered after an edit keeps what was open."""
    budget = MAX_OPEN_NODES
    stack = list(rows)
    while stack and budget:
        row = stack.pop()
        if row.id in open_ids and row.children and row.child_rows is None:
            row.child_rows = child_rows(session, project_id, row.id)
            row.next_cursor = next_cursor(row.child_rows, TREE_PAGE_SIZE)
            budget -= 1
        stack.extend(row.child_rows or [])
