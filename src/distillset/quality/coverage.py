"""Coverage of the domain tree: how many questions and records each leaf tag has."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from distillset.store.models import Answer, Project, Question, Tag
from distillset.store.queries import TagPaths

# A leaf with fewer records than this has "few".
DEFAULT_FEW = 3


@dataclass
class Coverage:
    leaves: int = 0
    without_records: int = 0
    with_few_records: int = 0
    few: int = DEFAULT_FEW
    questions_per_leaf: dict[str, float] = field(default_factory=dict)
    # Per leaf: path, questions, records; ordered by path.
    per_leaf: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def share(part):
            return round(part / self.leaves, 4) if self.leaves else None

        return {
            "leaves": self.leaves,
            "without_records": self.without_records,
            "share_without_records": share(self.without_records),
            "with_few_records": self.with_few_records,
            "share_with_few_records": share(self.with_few_records),
            "few": self.few,
            "questions_per_leaf": self.questions_per_leaf,
            "per_leaf": self.per_leaf,
        }


def _counts(session: Session, project: Project, column: Any) -> dict[int, int]:
    stmt = (
        select(Question.tag_id, func.count(column))
        .where(Question.project_id == project.id, Question.tag_id.is_not(None))
        .group_by(Question.tag_id)
    )
    if column is Answer.id:
        stmt = stmt.join(Answer, Answer.question_id == Question.id)
    return {int(tag_id or 0): int(count) for tag_id, count in session.execute(stmt)}


def coverage(session: Session, project: Project, few: int = DEFAULT_FEW) -> Coverage:
    """Questions and records per leaf tag, and the leaves with none or few records."""
    child = aliased(Tag)
    leaf_ids = list(
        session.scalars(
            select(Tag.id)
            .where(Tag.project_id == project.id)
            .where(~select(child.id).where(child.parent_id == Tag.id).exists())
        )
    )
    questions = _counts(session, project, Question.id)
    records = _counts(session, project, Answer.id)
    paths = TagPaths(session, project.id)
    paths.load(leaf_ids)
    leaves = sorted(
        (paths.path(tag_id), questions.get(tag_id, 0), records.get(tag_id, 0))
        for tag_id in leaf_ids
    )
    counts = [asked for _, asked, _ in leaves]
    summary: dict[str, float] = {}
    if counts:
        summary = {
            "min": min(counts),
            "median": float(statistics.median(counts)),
            "mean": round(statistics.fmean(counts), 2),
            "max": max(counts),
        }
    return Coverage(
        leaves=len(leaves),
        without_records=sum(1 for _, _, answered in leaves if answered == 0),
        with_few_records=sum(1 for _, _, answered in leaves if 0 < answered < few),
        few=few,
        questions_per_leaf=summary,
        per_leaf=[
            {"tag_path": path, "questions": asked, "records": answered}
            for path, asked, answered in leaves
        ],
    )


def question_count(session: Session, project: Project) -> int:
    """How many questions the project has (answered or not)."""
    stmt = select(func.count(Question.id)).where(Question.project_id == project.id)
    return int(session.scalar(stmt) or 0)
