"""Duplicate report: records whose question or answer says the same as an earlier record's.

Compared within each leaf tag (where a model repeating itself puts its duplicates), one tag
at a time, so memory holds one tag's records. Exact matches use the folded comparison key;
near matches use the same test the distillation steps use when they add questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.generation.dedup import comparison_key, is_near_duplicate
from distillset.review.editing import change_labels
from distillset.review.filters import RecordFilter, filtered_ids_query
from distillset.store.models import Answer, Project, Question
from distillset.store.queries import TagPaths

# Above this many records in one tag only exact matches are looked for (pairs grow as n²).
MAX_NEAR_COMPARE = 2_000


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


def _groups_in(
    rows: list[tuple[int, str]], part: str, tag_path: str, near: bool
) -> list[DuplicateGroup]:
    """Group (record id, text) rows: each row joins the first earlier group it matches."""
    groups: list[DuplicateGroup] = []
    keys: list[str] = []
    by_key: dict[str, int] = {}
    for record_id, text in rows:
        key = comparison_key(text)
        index = by_key.get(key)
        exact = index is not None
        if index is None and near:
            index = next((i for i, other in enumerate(keys) if is_near_duplicate(key, other)), None)
        if index is None:
            by_key[key] = len(groups)
            keys.append(key)
            groups.append(DuplicateGroup(part, tag_path, [record_id], text))
            continue
        groups[index].record_ids.append(record_id)
        groups[index].exact = groups[index].exact and exact
    return [group for group in groups if len(group.record_ids) > 1]


def _tag_ids(session: Session, project: Project, ids_query: Any) -> Iterator[int | None]:
    stmt = (
        select(Question.tag_id)
        .join(Answer, Answer.question_id == Question.id)
        .where(Answer.id.in_(ids_query))
        .distinct()
    )
    yield from session.scalars(stmt)


def find_duplicates(
    session: Session, project: Project, record_filter: RecordFilter | None = None
) -> list[DuplicateGroup]:
    """Duplicate questions and answers among the filter's records, tag by tag."""
    ids_query = filtered_ids_query(session, project, record_filter or RecordFilter())
    paths = TagPaths(session, project.id)
    report: list[DuplicateGroup] = []
    for tag_id in list(_tag_ids(session, project, ids_query)):
        tag_condition = Question.tag_id.is_(None) if tag_id is None else Question.tag_id == tag_id
        rows = session.execute(
            select(Answer.id, Question.text, Answer.answer)
            .join(Question, Question.id == Answer.question_id)
            .where(tag_condition, Answer.id.in_(ids_query))
            .order_by(Answer.id)
        ).all()
        near = len(rows) <= MAX_NEAR_COMPARE
        path = paths.path(tag_id)
        report += _groups_in([(r[0], r[1]) for r in rows], "question", path, near)
        report += _groups_in([(r[0], r[2]) for r in rows], "answer", path, near)
    return report


def label_duplicates(
    session: Session, project: Project, groups: Iterable[DuplicateGroup], label: str
) -> int:
    """Put ``label`` on every duplicate of the groups (all but each group's oldest record);
    returns how many records changed."""
    duplicates = {record_id for group in groups for record_id in group.record_ids[1:]}
    return change_labels(session, project, duplicates, add=[label])
