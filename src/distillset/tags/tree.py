"""The domain tree: find tags by path, add, rename, move, delete subtrees, read the tree.

Tags link by id. A path is a sequence of labels from the top level down; the project's topic
is the implicit root and may be written as the first label.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from distillset.domain import (
    MAX_LABEL_LENGTH,
    SEPARATOR_IN_LABEL,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    Origin,
    TagPath,
    checked_text,
    clean_label,
    normalize_text,
    one_line,
    strip_numbering,
    unstorable_reason,
)
from distillset.store.models import Answer, Project, Question, Tag
from distillset.store.queries import TagPaths

MAX_TAG_DEPTH = 20
_INSERT_BATCH = 5_000


def checked_label(label: str, *, keep_bare_number: bool = True, typed: bool = False) -> str:
    """A label a person gave (typed, or read from an outline file) as stored, refused when
    empty, too long or holding '>' (the path separator: never rewritten into another label,
    see domain.SEPARATOR_IN_LABEL). A label given whole (typed by hand, by default) keeps a
    bare leading number: "10 Tips for sprinting"; where that number is section or list
    numbering ("1 Basics" in a table of contents), pass False. A ``typed`` label keeps its
    quotes, markup and punctuation (the person's choice); only list numbering ("2. Athletics")
    and surrounding spaces go. Tabs and line breaks become spaces; other control characters are
    refused (model text has them removed before it gets here: domain.storable_text)."""
    reason = unstorable_reason(label)
    if reason is not None:
        raise InvalidInputError(f"invalid tag label: {reason}")
    if ">" in label:
        raise InvalidInputError(f"invalid tag label {label.strip()!r}: {SEPARATOR_IN_LABEL}")
    cleaned = (
        strip_numbering(one_line(label), keep_bare_number=keep_bare_number)
        if typed
        else clean_label(label, keep_bare_number=keep_bare_number)
    )
    if not cleaned:
        raise InvalidInputError(f"invalid tag label {label!r}: it is empty once cleaned")
    return checked_text("tag label", cleaned, MAX_LABEL_LENGTH)


def _stored_label(label: str, origin: Origin) -> str:
    """A person's label is kept as typed; a model's is cleaned of list numbering and quotes."""
    manual = origin is Origin.MANUAL
    return checked_label(label, keep_bare_number=manual, typed=manual)


def _strip_topic(session: Session, project: Project, path: TagPath) -> tuple[str, ...]:
    labels = path.labels
    if len(labels) > 0 and normalize_text(labels[0]) == normalize_text(project.topic):
        top = _child(session, project.id, None, labels[0])
        if top is None:
            return labels[1:]
    return labels


def _child(session: Session, project_id: int, parent_id: int | None, label: str) -> Tag | None:
    if unstorable_reason(label) is not None:
        return None  # no label holds NUL or ESC (and PostgreSQL refuses NUL in a query)
    return session.scalar(
        select(Tag).where(
            Tag.project_id == project_id,
            Tag.parent_id.is_(None) if parent_id is None else Tag.parent_id == parent_id,
            Tag.label_key == normalize_text(label),
        )
    )


def find_tag(session: Session, project: Project, path: TagPath | str) -> Tag:
    path = TagPath.parse(path) if isinstance(path, str) else path
    labels = _strip_topic(session, project, path)
    if not labels:
        raise InvalidInputError("the path names the topic itself; name a tag below it")
    parent: Tag | None = None
    for depth, label in enumerate(labels, start=1):
        tag = _child(session, project.id, parent.id if parent else None, label)
        if tag is None:
            shown = " > ".join(labels[:depth])
            raise NotFoundError(f"no tag {shown!r} in project {project.name!r}")
        parent = tag
    assert parent is not None
    return parent


def tag_in_project(session: Session, project: Project, tag_id: int) -> Tag:
    """The project's tag of this id (NotFoundError for none, or another project's)."""
    tag = session.get(Tag, tag_id)
    if tag is None or tag.project_id != project.id:
        raise NotFoundError(f"no tag with id {tag_id} in project {project.name!r}")
    return tag


def find_parent(session: Session, project: Project, path: str | None) -> Tag | None:
    """The tag a path names, or None (the topic) for an empty path or the topic alone."""
    if path is None or not path.strip():
        return None
    parsed = TagPath.parse(path)
    if not _strip_topic(session, project, parsed):
        return None
    return find_tag(session, project, parsed)


def tag_path(session: Session, tag: Tag) -> TagPath:
    """The tag's path, its ancestors read in one query (the tag itself as it is in memory,
    so a label just changed counts)."""
    above = () if tag.parent_id is None else TagPaths(session).labels(tag.parent_id)
    return TagPath((*above, tag.label))


def children(session: Session, project_id: int, parent_id: int | None) -> list[Tag]:
    return list(
        session.scalars(
            select(Tag)
            .where(
                Tag.project_id == project_id,
                Tag.parent_id.is_(None) if parent_id is None else Tag.parent_id == parent_id,
            )
            .order_by(Tag.position, Tag.id)
        )
    )


def add_children(
    session: Session,
    project_id: int,
    parent: Tag | None,
    labels: Iterable[str],
    origin: Origin = Origin.GENERATED,
) -> list[Tag]:
    """Insert the labels not yet present under the parent; returns the tags created.

    Each insert runs in a savepoint so a concurrent writer's identical label is skipped,
    never duplicated.
    """
    depth = (parent.depth + 1) if parent else 1
    if depth > MAX_TAG_DEPTH:
        raise InvalidInputError(f"the tree may be at most {MAX_TAG_DEPTH} levels deep")
    parent_id = parent.id if parent else None
    position = session.scalar(
        select(func.coalesce(func.max(Tag.position), -1)).where(
            Tag.project_id == project_id,
            Tag.parent_id.is_(None) if parent_id is None else Tag.parent_id == parent_id,
        )
    )
    assert position is not None
    created: list[Tag] = []
    for label in labels:
        cleaned = _stored_label(label, origin)
        if _child(session, project_id, parent_id, cleaned) is not None:
            continue
        position += 1
        tag = Tag(
            project_id=project_id,
            parent_id=parent_id,
            label=cleaned,
            label_key=normalize_text(cleaned),
            position=position,
            depth=depth,
            origin=origin.value,
        )
        try:
            with session.begin_nested():
                session.add(tag)
        except IntegrityError:
            continue
        created.append(tag)
    return created


def add_tag(
    session: Session,
    project_id: int,
    parent: Tag | None,
    label: str,
    origin: Origin = Origin.MANUAL,
) -> Tag:
    """Add one tag under the parent (the top level for None), as typed by hand; refuse a
    sibling of the same label (compared as stored: case, accents and spacing aside)."""
    cleaned = _stored_label(label, origin)
    created = add_children(session, project_id, parent, [cleaned], origin)
    if not created:
        existing = _child(session, project_id, parent.id if parent else None, cleaned)
        name = existing.label if existing is not None else cleaned
        raise ConflictError(f"a sibling tag named {name!r} already exists")
    return created[0]


def add_tag_path(
    session: Session, project: Project, path: str, origin: Origin = Origin.MANUAL
) -> Tag:
    """Create the tag a path names, with any missing ancestors; refuse an existing one."""
    labels = _strip_topic(session, project, TagPath.parse(path))
    if not labels:
        raise InvalidInputError("the path names the topic itself; name a tag below it")
    parent: Tag | None = None
    for index, label in enumerate(labels):
        cleaned = _stored_label(label, origin)
        existing = _child(session, project.id, parent.id if parent else None, cleaned)
        if existing is None:
            parent = add_tag(session, project.id, parent, label, origin)
        elif index == len(labels) - 1:
            raise ConflictError(f"tag {' > '.join(labels)!r} already exists")
        else:
            parent = existing
    assert parent is not None
    return parent


def rename_tag(session: Session, tag: Tag, new_label: str) -> Tag:
    cleaned = checked_label(new_label, typed=True)
    clash = _child(session, tag.project_id, tag.parent_id, cleaned)
    if clash is not None and clash.id != tag.id:
        raise ConflictError(f"a sibling tag named {clash.label!r} already exists")
    tag.label = cleaned
    tag.label_key = normalize_text(cleaned)
    session.flush()
    return tag


def subtree_ids_query(tag_id: int) -> Any:
    """A recursive CTE selecting the ids of a tag and all its descendants."""
    tree = select(Tag.id.label("id")).where(Tag.id == tag_id).cte("subtree", recursive=True)
    child = aliased(Tag)
    tree = tree.union_all(select(child.id).where(child.parent_id == tree.c.id))
    return select(tree.c.id)


@dataclass
class SubtreeCounts:
    tags: int
    questions: int
    answers: int


def subtree_counts(session: Session, tag: Tag) -> SubtreeCounts:
    ids = subtree_ids_query(tag.id)
    questions = select(Question.id).where(Question.tag_id.in_(ids))
    return SubtreeCounts(
        tags=int(session.scalar(select(func.count()).select_from(ids.subquery())) or 0),
        questions=int(session.scalar(select(func.count()).where(Question.tag_id.in_(ids))) or 0),
        answers=int(
            session.scalar(select(func.count()).where(Answer.question_id.in_(questions))) or 0
        ),
    )


def delete_tag(session: Session, tag: Tag) -> SubtreeCounts:
    """Delete a tag with its subtree, questions and answers (foreign-key cascade)."""
    counts = subtree_counts(session, tag)
    session.delete(tag)
    session.flush()
    return counts


def move_tag(session: Session, tag: Tag, new_parent: Tag | None) -> Tag:
    if new_parent is not None:
        if new_parent.project_id != tag.project_id:
            raise InvalidInputError("a tag can only move within its project")
        if new_parent.id in set(session.scalars(subtree_ids_query(tag.id))):
            raise InvalidInputError("a tag cannot move under itself or its own descendants")
    new_parent_id = new_parent.id if new_parent else None
    clash = _child(session, tag.project_id, new_parent_id, tag.label)
    if clash is not None and clash.id != tag.id:
        raise ConflictError(f"the new parent already has a tag named {clash.label!r}")
    shift = ((new_parent.depth + 1) if new_parent else 1) - tag.depth
    ids = list(session.scalars(subtree_ids_query(tag.id)))
    if (
        shift
        and max(session.scalars(select(Tag.depth).where(Tag.id.in_(ids))), default=0) + shift
        > MAX_TAG_DEPTH
    ):
        raise InvalidInputError(f"the tree may be at most {MAX_TAG_DEPTH} levels deep")
    last = session.scalar(
        select(func.coalesce(func.max(Tag.position), -1)).where(
            Tag.project_id == tag.project_id,
            Tag.parent_id.is_(None) if new_parent_id is None else Tag.parent_id == new_parent_id,
        )
    )
    tag.parent_id = new_parent_id
    tag.position = int(last or 0) + 1
    if shift:
        session.execute(
            update(Tag).where(Tag.id.in_(ids)).values(depth=Tag.depth + shift),
            execution_options={"synchronize_session": "fetch"},
        )
    session.flush()
    return tag


@dataclass
class TreeNode:
    """A tag with its descendants, for printing and exporting."""

    label: str
    id: int | None = None
    children: list[TreeNode] = field(default_factory=list)
    questions: int = 0

    def as_dict(self, with_ids: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label}
        if with_ids and self.id is not None:
            data["id"] = self.id
            data["questions"] = self.questions
        data["children"] = [child.as_dict(with_ids) for child in self.children]
        return data


def load_tree(session: Session, project_id: int) -> list[TreeNode]:
    """The whole tree in two queries, top-level nodes first, siblings in position order."""
    # A comprehension, not dict(result): a Result has .keys() and would be read as a mapping.
    question_counts: dict[int | None, int] = {
        tag_id: count
        for tag_id, count in session.execute(
            select(Question.tag_id, func.count(Question.id))
            .where(Question.project_id == project_id)
            .group_by(Question.tag_id)
        )
    }
    nodes: dict[int, TreeNode] = {}
    parents: list[tuple[int | None, TreeNode]] = []
    # Plain rows, not ORM objects: a 200,000-tag tree loads in a fraction of the memory.
    for tag_id, parent_id, label in session.execute(
        select(Tag.id, Tag.parent_id, Tag.label)
        .where(Tag.project_id == project_id)
        .order_by(Tag.depth, Tag.position, Tag.id)
    ):
        node = TreeNode(label, tag_id, questions=question_counts.get(tag_id, 0))
        nodes[tag_id] = node
        parents.append((parent_id, node))
    roots: list[TreeNode] = []
    for parent_id, node in parents:
        (roots if parent_id is None else nodes[parent_id].children).append(node)
    return roots


def insert_tree(
    session: Session,
    project: Project,
    nodes: Sequence[TreeNode],
    parent: Tag | None = None,
    origin: Origin = Origin.IMPORTED,
) -> int:
    """Insert nodes (merging with existing tags of the same label); returns tags created.

    Works level by level with one bulk INSERT per level, so a 100,000-tag table of contents
    takes seconds: existing tags are read once, new ones get positions after their siblings.
    """
    known: dict[tuple[int | None, str], int] = {}
    next_position: dict[int | None, int] = {}
    for tag_id, parent_id, label_key, position in session.execute(
        select(Tag.id, Tag.parent_id, Tag.label_key, Tag.position).where(
            Tag.project_id == project.id
        )
    ):
        known[(parent_id, label_key)] = tag_id
        next_position[parent_id] = max(next_position.get(parent_id, 0), position + 1)
    depth = (parent.depth + 1) if parent else 1
    level: list[tuple[int | None, TreeNode]] = [(parent.id if parent else None, n) for n in nodes]
    created = 0
    while level:
        if depth > MAX_TAG_DEPTH:
            raise InvalidInputError(f"the tree may be at most {MAX_TAG_DEPTH} levels deep")
        rows: list[dict[str, Any]] = []
        pending: dict[tuple[int | None, str], None] = {}  # insertion-ordered set
        placed: list[tuple[tuple[int | None, str], TreeNode]] = []
        for parent_id, node in level:
            # Already read by the file parser, which knows where a number is numbering.
            label = checked_label(node.label)
            key = (parent_id, normalize_text(label))
            if key not in known and key not in pending:
                position = next_position.get(parent_id, 0)
                next_position[parent_id] = position + 1
                rows.append(
                    {
                        "project_id": project.id,
                        "parent_id": parent_id,
                        "label": label,
                        "label_key": key[1],
                        "position": position,
                        "depth": depth,
                        "origin": origin.value,
                    }
                )
                pending[key] = None
            placed.append((key, node))
        new_ids: list[int] = []
        try:
            # In batches, so memory stays flat however wide a level is.
            for start in range(0, len(rows), _INSERT_BATCH):
                new_ids += session.scalars(
                    insert(Tag).returning(Tag.id, sort_by_parameter_order=True),
                    rows[start : start + _INSERT_BATCH],
                ).all()
        except IntegrityError as exc:
            raise ConflictError(
                "the tree changed while importing (a tag was added at the same time); "
                "run the import again"
            ) from exc
        known.update(zip(pending, new_ids, strict=True))
        created += len(new_ids)
        level = [(known[key], child) for key, node in placed for child in node.children]
        depth += 1
    return created
