"""Read queries of question lists: keyset pages (by id) with filters, answered flag included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from distillset.dataset.text_search import question_text_matches
from distillset.services.tags import subtree_ids_query
from distillset.store.models import Answer, Question

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


def question_rows(
    session: Session,
    project_id: int,
    *,
    tag_id: int | None = None,
    subtree: bool = False,
    answered: bool | None = None,
    search: str | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
    with_answers: bool = False,
) -> list[QuestionRow]:
    """A page of questions in id order: a tag's own (or its subtree's), filtered."""
    has_answer = exists().where(Answer.question_id == Question.id)
    stmt = select(
        Question.id,
        Question.tag_id,
        Question.text,
        Question.origin,
        Question.model,
        Question.last_error,
        has_answer.label("answered"),
    ).where(Question.project_id == project_id)
    if tag_id is not None:
        stmt = stmt.where(
            Question.tag_id.in_(subtree_ids_query(tag_id)) if subtree else Question.tag_id == tag_id
        )
    if answered is not None:
        stmt = stmt.where(has_answer if answered else ~has_answer)
    if search:
        stmt = stmt.where(question_text_matches(session, search))
    if after is not None:
        stmt = stmt.where(Question.id > after)
    rows = [QuestionRow(*row) for row in session.execute(stmt.order_by(Question.id).limit(limit))]
    if with_answers:
        attach_answers(session, rows)
    return rows


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
    rows = question_rows(session, project_id, after=question_id - 1, limit=1, with_answers=True)
    return rows[0] if rows and rows[0].id == question_id else None
