"""The one question listing: keyset pages (by id) of a project's questions, filtered by
tag (or its subtree), answered or not and text, with each one's answered flag, and on
request its first answer and its tag path. The web, the CLI and the Python API all list
questions here, by ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from distillset.review.text_search import question_text_matches
from distillset.store.models import Answer, Question
from distillset.store.queries import TagPaths
from distillset.tags.tree import subtree_ids_query

PAGE_SIZE = 50


@dataclass
class AnswerBrief:
    id: int
    answer: str
    reasoning: str | None


@dataclass
class QuestionRow:
    id: int
    tag_id: int | None
    text: str
    origin: str
    model: str | None
    last_error: str | None
    answered: bool
    answer: AnswerBrief | None = None
    tag_path: str | None = None  # with_paths only

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tag_id": self.tag_id,
            "text": self.text,
            "origin": self.origin,
            "model": self.model,
            "last_error": self.last_error,
            "answered": self.answered,
            "answer_id": self.answer.id if self.answer else None,
        }


@dataclass(frozen=True)
class QuestionFilter:
    """Which questions of a project: a tag's subtree, answered or not, text in them."""

    tag_id: int | None = None  # the tag and its whole subtree
    answered: bool | None = None
    search: str | None = None

    @property
    def empty(self) -> bool:
        return self.tag_id is None and self.answered is None and not self.search


def question_conditions(
    session: Session,
    project_id: int,
    question_filter: QuestionFilter,
    *,
    subtree: bool = True,
) -> list[Any]:
    """The WHERE conditions on Question that select the filter's questions of the project
    (``subtree=False``: the tag's own questions only)."""
    conditions: list[Any] = [Question.project_id == project_id]
    tag_id = question_filter.tag_id
    if tag_id is not None:
        conditions.append(
            Question.tag_id.in_(subtree_ids_query(tag_id)) if subtree else Question.tag_id == tag_id
        )
    if question_filter.answered is not None:
        has_answer = exists().where(Answer.question_id == Question.id)
        conditions.append(has_answer if question_filter.answered else ~has_answer)
    if question_filter.search:
        conditions.append(question_text_matches(session, question_filter.search))
    return conditions


def list_questions(
    session: Session,
    project_id: int,
    *,
    tag_id: int | None = None,
    subtree: bool = False,
    answered: bool | None = None,
    search: str | None = None,
    after: int | None = None,
    limit: int | None = PAGE_SIZE,
    with_answers: bool = False,
    with_paths: bool = False,
) -> list[QuestionRow]:
    """A page of questions in id order after id ``after`` (keyset paging: each page costs
    the same however deep): a tag's own (or its subtree's), filtered. Plain rows, no ORM
    objects; ``limit=None`` lists them all. The tag is not checked against the project:
    callers resolve it first (a tag of another project simply matches nothing)."""
    has_answer = exists().where(Answer.question_id == Question.id)
    question_filter = QuestionFilter(tag_id=tag_id, answered=answered, search=search)
    stmt = select(
        Question.id,
        Question.tag_id,
        Question.text,
        Question.origin,
        Question.model,
        Question.last_error,
        has_answer.label("answered"),
    ).where(*question_conditions(session, project_id, question_filter, subtree=subtree))
    if after is not None:
        stmt = stmt.where(Question.id > after)
    rows = [QuestionRow(*row) for row in session.execute(stmt.order_by(Question.id).limit(limit))]
    if with_answers:
        attach_answers(session, rows)
    if with_paths:
        attach_paths(session, rows)
    return rows


def attach_paths(session: Session, rows: list[QuestionRow]) -> None:
    """Each row's tag path ("A > B"), the page's tags read in one query."""
    paths = TagPaths(session)
    paths.load(row.tag_id for row in rows)
    for row in rows:
        row.tag_path = paths.path(row.tag_id) if row.tag_id is not None else None


def attach_answers(session: Session, rows: list[QuestionRow]) -> None:
    """The first answer of each answered question on the page (one query)."""
    ids = [row.id for row in rows if row.answered]
    if not ids:
        return
    briefs: dict[int, AnswerBrief] = {}
    for answer_id, question_id, text, reasoning in session.execute(
        select(Answer.id, Answer.question_id, Answer.answer, Answer.reasoning)
        .where(Answer.question_id.in_(ids))
        .order_by(Answer.question_id, Answer.variant)
    ):
        briefs.setdefault(question_id, AnswerBrief(answer_id, text, reasoning))
    for row in rows:
        row.answer = briefs.get(row.id)


def question_row(session: Session, project_id: int, question_id: int) -> QuestionRow | None:
    """One question of the project as the listing shows it (None when not there)."""
    rows = list_questions(session, project_id, after=question_id - 1, limit=1, with_answers=True)
    return rows[0] if rows and rows[0].id == question_id else None
