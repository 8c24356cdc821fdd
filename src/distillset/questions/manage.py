"""Questions as items of their own: edit one's text, delete some (with their answers), move
some to another tag. Questions are chosen by id, or by a filter (a tag's subtree, answered
or not, text), or all of them when asked for out loud; never because no filter was given."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError, NotFoundError
from distillset.questions.listing import (
    QuestionFilter,
    QuestionRow,
    question_conditions,
    question_row,
)
from distillset.review import set_question_text
from distillset.store.models import Answer, Project, Question, Tag


def edit_question(session: Session, project: Project, question_id: int, text: str) -> QuestionRow:
    """Change a question's text; its answers stay with it. Returns the question as listed."""
    set_question_text(session, project, question_id, text)
    row = question_row(session, project.id, question_id)
    assert row is not None
    return row


def chosen_questions(
    ids: Iterable[int] | None, question_filter: QuestionFilter, everything: bool
) -> tuple[list[int] | None, QuestionFilter | None]:
    """What a change to several questions covers: ids, or a filter; the whole project only
    when asked for out loud (``everything``, the CLI's --all)."""
    chosen = list(ids or ())
    if chosen:
        if not question_filter.empty or everything:
            raise InvalidInputError("give question ids or filters, not both")
        return chosen, None
    if question_filter.empty and not everything:
        raise InvalidInputError("name questions by id, select them with filters, or pass --all")
    return None, question_filter


def _chosen(
    session: Session,
    project: Project,
    ids: Iterable[int] | None,
    question_filter: QuestionFilter | None,
) -> list[int]:
    """The chosen questions' ids: explicit ids (every one must be the project's) or those a
    filter selects. Read once, so a change never reads a filter again from rows it changes."""
    if ids is not None:
        wanted = sorted(set(ids))
        if not wanted:
            raise InvalidInputError("name at least one question")
        found: set[int] = set()
        for batch in _batches(wanted):
            found.update(
                session.scalars(
                    select(Question.id).where(
                        Question.project_id == project.id, Question.id.in_(batch)
                    )
                )
            )
        missing = [question_id for question_id in wanted if question_id not in found]
        if missing:
            shown = ", ".join(map(str, missing[:10]))
            raise NotFoundError(f"no question {shown} in project {project.name!r}")
        return wanted
    if question_filter is None:
        raise InvalidInputError("name questions by id or give a filter")
    _check_tag(session, project, question_filter.tag_id)
    conditions = question_conditions(session, project.id, question_filter)
    return list(session.scalars(select(Question.id).where(*conditions).order_by(Question.id)))


def _batches(ids: list[int], size: int = 5_000) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _check_tag(session: Session, project: Project, tag_id: int | None) -> Tag | None:
    if tag_id is None:
        return None
    tag = session.get(Tag, tag_id)
    if tag is None or tag.project_id != project.id:
        raise NotFoundError(f"no tag with id {tag_id} in project {project.name!r}")
    return tag


@dataclass(frozen=True)
class QuestionsDeleted:
    questions: int
    answers: int

    def as_dict(self) -> dict[str, int]:
        return {"questions": self.questions, "answers": self.answers}


def count_questions(
    session: Session,
    project: Project,
    *,
    ids: Iterable[int] | None = None,
    question_filter: QuestionFilter | None = None,
) -> QuestionsDeleted:
    """How many questions, and answers of theirs, are chosen: what a confirmation asks about
    before they are deleted."""
    chosen = _chosen(session, project, ids, question_filter)
    return QuestionsDeleted(len(chosen), _answers_of(session, chosen))


def _answers_of(session: Session, chosen: list[int]) -> int:
    return sum(
        int(session.scalar(select(func.count(Answer.id)).where(Answer.question_id.in_(batch))) or 0)
        for batch in _batches(chosen)
    )


def delete_questions(
    session: Session,
    project: Project,
    *,
    ids: Iterable[int] | None = None,
    question_filter: QuestionFilter | None = None,
) -> QuestionsDeleted:
    """Delete the chosen questions with their answers; returns how many of each went. A run
    answering one of them skips it before its request is sent."""
    chosen = _chosen(session, project, ids, question_filter)
    deleted = QuestionsDeleted(len(chosen), _answers_of(session, chosen))
    for batch in _batches(chosen):
        for table, column in ((Answer, Answer.question_id), (Question, Question.id)):
            session.execute(
                delete(table).where(column.in_(batch)),
                execution_options={"synchronize_session": False},
            )
    session.expire_all()
    return deleted


def move_questions(
    session: Session,
    project: Project,
    tag_id: int,
    *,
    ids: Iterable[int] | None = None,
    question_filter: QuestionFilter | None = None,
) -> int:
    """Put the chosen questions (with their answers) under another tag of the project;
    returns how many were chosen."""
    tag = _check_tag(session, project, tag_id)
    assert tag is not None
    chosen = _chosen(session, project, ids, question_filter)
    for batch in _batches(chosen):
        session.execute(
            update(Question).where(Question.id.in_(batch)).values(tag_id=tag.id),
            execution_options={"synchronize_session": False},
        )
    session.expire_all()
    return len(chosen)
