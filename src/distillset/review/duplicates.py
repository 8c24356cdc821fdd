"""Duplicate report: records whose question or answer says the same as an earlier record's.

Compared within each leaf tag (where a model repeating itself puts its duplicates), one tag
at a time, so memory holds one tag's records; or across the whole selection at once. Exact
matches use the folded comparison key; near matches use the same test the distillation steps
use when they add questions, asked only of texts that MinHash/LSH puts in one bucket, so a
scan grows with the number of records rather than its square.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.generation.dedup import comparison_key
from distillset.generation.near_index import NearDuplicateIndex
from distillset.review.editing import change_labels
from distillset.review.filters import RecordFilter, filtered_ids_query
from distillset.store.models import Answer, Project, Question
from distillset.store.queries import TagPaths


@dataclass
class DuplicateGroup:
    """Records saying the same thing; the first (oldest) is the one to keep."""

    part: str  # "question" or "answer"
    tag_path: str
    record_ids: list[int] = field(default_factory=list)
    text: str = ""
    exact: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "tag_path": self.tag_path,
            "record_ids": self.record_ids,
            "keep": self.record_ids[0],
            "duplicates": self.record_ids[1:],
            "exact": self.exact,
            "text": self.text,
        }


def _groups_in(rows: list[Any], column: int, part: str, paths: TagPaths) -> list[DuplicateGroup]:
    """Group (record id, tag id, question, answer) rows by one text column: each row joins
    the first earlier group it matches. A group names the tag of its oldest record."""
    groups: list[DuplicateGroup] = []
    index = NearDuplicateIndex()
    for row in rows:
        text = row[column]
        position, how = index.place(comparison_key(text))
        if how == "new":
            groups.append(DuplicateGroup(part, paths.path(row[1]), [row[0]], text))
            continue
        groups[position].record_ids.append(row[0])
        groups[position].exact = groups[position].exact and how == "exact"
    return [group for group in groups if len(group.record_ids) > 1]


def _tag_ids(session: Session, ids_query: Any) -> list[int | None]:
    stmt = (
        select(Question.tag_id)
        .join(Answer, Answer.question_id == Question.id)
        .where(Answer.id.in_(ids_query))
        .distinct()
    )
    return list(session.scalars(stmt))


def _rows(session: Session, ids_query: Any, tag_id: int | None, every_tag: bool) -> list[Any]:
    stmt = (
        select(Answer.id, Question.tag_id, Question.text, Answer.answer)
        .join(Question, Question.id == Answer.question_id)
        .where(Answer.id.in_(ids_query))
        .order_by(Answer.id)
    )
    if not every_tag:
        stmt = stmt.where(
            Question.tag_id.is_(None) if tag_id is None else Question.tag_id == tag_id
        )
    return list(session.execute(stmt).all())


def find_duplicates(
    session: Session,
    project: Project,
    record_filter: RecordFilter | None = None,
    *,
    across_tags: bool = False,
) -> list[DuplicateGroup]:
    """Duplicate questions and answers among the filter's records, tag by tag (or across
    the whole selection with ``across_tags``)."""
    ids_query = filtered_ids_query(session, project, record_filter or RecordFilter())
    scopes: list[int | None] = [None] if across_tags else _tag_ids(session, ids_query)
    # A subtree's report reads the paths of its own tags; a whole project's, every tag once.
    in_subtree = record_filter is not None and record_filter.tag_id is not None
    paths = TagPaths(session) if in_subtree else TagPaths(session, project.id)
    if in_subtree and not across_tags:
        paths.load(scopes)
    report: list[DuplicateGroup] = []
    for tag_id in scopes:
        rows = _rows(session, ids_query, tag_id, across_tags)
        report += _groups_in(rows, 2, "question", paths)
        report += _groups_in(rows, 3, "answer", paths)
    return report


def label_duplicates(
    session: Session, project: Project, groups: Iterable[DuplicateGroup], label: str
) -> int:
    """Put ``label`` on every duplicate of the groups (all but each group's oldest record);
    returns how many records changed."""
    duplicates = {record_id for group in groups for record_id in group.record_ids[1:]}
    return change_labels(session, project, duplicates, add=[label])
