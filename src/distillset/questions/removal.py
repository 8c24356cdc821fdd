"""Deleting questions for good, with their answers (a duplicate, a contaminated question):
unlike deleting a record, nothing is left to be answered again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from distillset.store.models import Answer, Project, Question

_CHUNK = 500  # ids per statement: well under every database's limit on parameters


@dataclass(frozen=True)
class RemovedQuestions:
    questions: int
    records: int


def delete_questions(session: Session, project: Project, ids: Iterable[int]) -> RemovedQuestions:
    """Delete the project's questions among ``ids`` and their answers (ids of other
    projects are left alone); says how many of each went."""
    wanted = sorted(set(ids))
    questions = records = 0
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        owned = (Question.project_id == project.id) & Question.id.in_(chunk)
        records += int(
            session.scalar(
                select(func.count(Answer.id))
                .join(Question, Question.id == Answer.question_id)
                .where(owned)
            )
            or 0
        )
        session.execute(
            delete(Answer).where(Answer.question_id.in_(select(Question.id).where(owned))),
            execution_options={"synchronize_session": False},
        )
        result = session.execute(
            delete(Question).where(owned), execution_options={"synchronize_session": False}
        )
        questions += int(getattr(result, "rowcount", 0) or 0)
    session.expire_all()
    return RemovedQuestions(questions=questions, records=records)
