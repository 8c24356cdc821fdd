"""Which dataset records a review listing, a bulk change, a judge run or an export covers.

One filter type for every consumer, turned into SQL conditions on ``answers`` (joined to
``questions`` only when a condition needs the question).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from distillset.domain import InvalidInputError
from distillset.review.text_search import escape_like, record_text_matches
from distillset.store.models import Answer, Project, Question, Tag
from distillset.tags.tree import subtree_ids_query, tag_in_project, tag_path

MAX_SCORE = 5.0
# The conditions a person chooses, by name: what task rows, dataset cards and the Python
# API's keywords carry. (``scored_before`` is set only by a rescore task, for itself.)
CONDITIONS = (
    "tag_id",
    "confirmed",
    "has_reasoning",
    "scored",
    "min_score",
    "max_score",
    "model",
    "search",
    "label",
    "ids",
    "sampled",
    "one_per_question",
    "min_difficulty",
)
DIFFICULTY_RANGE = (1, 10)


@dataclass(frozen=True)
class RecordFilter:
    """Conditions on dataset records; ``None`` means "any"."""

    tag_id: int | None = None  # the tag and its whole subtree
    confirmed: bool | None = None
    has_reasoning: bool | None = None
    scored: bool | None = None
    min_score: float | None = None
    max_score: float | None = None
    model: str | None = None
    search: str | None = None  # substring of question, answer or reasoning (case-insensitive)
    label: str | None = None  # a custom label the record carries
    ids: tuple[int, ...] = field(default_factory=tuple)
    # Only records of questions with several samples (best-of-N).
    sampled: bool | None = None
    # One record per question: its chosen sample, else its first (lowest variant).
    one_per_question: bool | None = None
    # Only records of questions the judge rated at least this hard (1-10).
    min_difficulty: int | None = None
    # Not scored since this moment (a rescore task's start): what such a task has left to do.
    scored_before: datetime | None = None

    def __post_init__(self) -> None:
        tag_id: object = self.tag_id  # from JSON or a keyword: checked, not trusted
        if tag_id is not None and (isinstance(tag_id, bool) or not isinstance(tag_id, int)):
            raise InvalidInputError(f"tag_id is a tag's id (a whole number), not {tag_id!r}")
        for name in ("min_score", "max_score"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_SCORE:
                raise InvalidInputError(f"{name.replace('_', ' ')} must be between 0 and 5")
        difficulty: object = self.min_difficulty
        low, high = DIFFICULTY_RANGE
        if difficulty is not None and (
            isinstance(difficulty, bool)
            or not isinstance(difficulty, int)
            or not low <= difficulty <= high
        ):
            raise InvalidInputError(f"min difficulty must be a whole number from {low} to {high}")
        if (
            self.min_score is not None
            and self.max_score is not None
            and self.min_score > self.max_score
        ):
            raise InvalidInputError("min score is above max score")

    def as_dict(self) -> dict[str, Any]:
        """The filter as JSON-able parameters (for task rows and dataset cards)."""
        data = {
            name: getattr(self, name)
            for name in CONDITIONS
            if name != "ids" and getattr(self, name) is not None
        }
        if self.ids:
            data["ids"] = list(self.ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordFilter:
        """A filter from its conditions by name (task params, or keywords in the Python API)."""
        unknown = sorted(set(data) - set(CONDITIONS))
        if unknown:
            raise InvalidInputError(
                f"unknown record filter {unknown[0]!r}: choose from {', '.join(CONDITIONS)}"
            )
        values = dict(data)
        values["ids"] = tuple(values.get("ids") or ())
        return cls(**values)


def record_conditions(
    session: Session, project: Project, record_filter: RecordFilter
) -> tuple[list[ColumnElement[bool]], bool]:
    """SQL conditions for the filter, and whether they need ``questions`` joined."""
    conditions: list[ColumnElement[bool]] = [Answer.project_id == project.id]
    needs_question = False
    flt = record_filter
    if flt.ids:
        conditions.append(Answer.id.in_(flt.ids))
    if flt.tag_id is not None:
        tag = tag_in_project(session, project, flt.tag_id)
        conditions.append(Question.tag_id.in_(subtree_ids_query(tag.id)))
        needs_question = True
    if flt.confirmed is not None:
        conditions.append(Answer.confirmed.is_(flt.confirmed))
    if flt.has_reasoning is True:
        conditions.append(Answer.reasoning.is_not(None) & (Answer.reasoning != ""))
    elif flt.has_reasoning is False:
        conditions.append(or_(Answer.reasoning.is_(None), Answer.reasoning == ""))
    if flt.scored is True:
        # A range rather than IS NOT NULL, so the (project_id, score) index serves it.
        conditions.append(Answer.score >= 0)
    elif flt.scored is False:
        conditions.append(Answer.score.is_(None))
    if flt.min_score is not None:
        conditions.append(Answer.score >= flt.min_score)
    if flt.max_score is not None:
        conditions.append(Answer.score <= flt.max_score)
    if flt.scored_before is not None:
        conditions.append(or_(Answer.scored_at.is_(None), Answer.scored_at < flt.scored_before))
    if flt.model is not None:
        conditions.append(Answer.model == flt.model)
    if flt.label is not None:
        # Labels are a small JSON list of strings; match the item as the JSON text spells it.
        quoted = f"%{escape_like(json.dumps(flt.label))}%"
        conditions.append(cast(Answer.labels, Text).like(quoted, escape="\\"))
    if flt.search:
        conditions.append(record_text_matches(session, flt.search))
        needs_question = True
    if flt.sampled:
        conditions.append(Answer.question_id.in_(sampled_questions(project.id)))
    if flt.one_per_question:
        conditions.append(~_outranked())
    if flt.min_difficulty is not None:
        conditions.append(Question.difficulty >= flt.min_difficulty)
        needs_question = True
    return conditions, needs_question


def sampled_questions(project_id: int) -> Any:
    """A SELECT of the ids of the project's questions that have several samples."""
    return (
        select(Answer.question_id)
        .where(Answer.project_id == project_id)
        .group_by(Answer.question_id)
        .having(func.count(Answer.id) > 1)
    )


def _outranked() -> ColumnElement[bool]:
    """Whether another sample of the record's question comes first: a chosen one before an
    unchosen one, then the lower variant (then the lower id)."""
    other = aliased(Answer)
    first = or_(
        other.chosen.is_(True) & Answer.chosen.is_(False),
        (other.chosen == Answer.chosen)
        & or_(
            other.variant < Answer.variant,
            (other.variant == Answer.variant) & (other.id < Answer.id),
        ),
    )
    return select(other.id).where(other.question_id == Answer.question_id, first).exists()


def described_filter(session: Session, record_filter: RecordFilter) -> dict[str, Any]:
    """The filter as a person reads it (a dataset card): its conditions, with the path of
    its tag beside the tag's id."""
    data = record_filter.as_dict()
    tag = session.get(Tag, record_filter.tag_id) if record_filter.tag_id is not None else None
    if tag is not None:
        data["tag"] = str(tag_path(session, tag))
    return data


def filtered_ids_query(session: Session, project: Project, record_filter: RecordFilter) -> Any:
    """A SELECT of the ids of matching answers (usable as a subquery in bulk updates)."""
    conditions, needs_question = record_conditions(session, project, record_filter)
    stmt = select(Answer.id)
    if needs_question:
        stmt = stmt.join(Question, Question.id == Answer.question_id)
    return stmt.where(*conditions)


def any_record(session: Session, project: Project, record_filter: RecordFilter) -> bool:
    """Whether any record matches the filter: one EXISTS, whatever the dataset's size."""
    query = filtered_ids_query(session, project, record_filter)
    return bool(session.scalar(select(query.exists())))
