"""Acting on a duplicate or contamination report: label the records, or delete for good.

A repeated question is deleted with its answers (deleting only its record would leave the
question to be answered again); a repeated answer to a different question goes alone, and its
question is answered afresh. The oldest item of each group stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.questions import delete_questions
from distillset.review import DuplicateGroup, change_labels, delete_records
from distillset.store.models import Answer, Project


@dataclass(frozen=True)
class Removal:
    questions: int = 0
    records: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"questions_deleted": self.questions, "records_deleted": self.records}


def _questions_of(session: Session, record_ids: Sequence[int]) -> dict[int, int]:
    """Record id -> its question's id."""
    found: dict[int, int] = {}
    for start in range(0, len(record_ids), 500):
        chunk = record_ids[start : start + 500]
        rows = session.execute(select(Answer.id, Answer.question_id).where(Answer.id.in_(chunk)))
        found.update({record: question for record, question in rows})
    return found


def lexical_removal_plan(
    session: Session, groups: Iterable[DuplicateGroup]
) -> tuple[set[int], set[int]]:
    """(questions to delete, records to delete) for lexical duplicate groups."""
    groups = list(groups)
    repeated_questions = [r for g in groups if g.part == "question" for r in g.record_ids[1:]]
    repeated_answers = [r for g in groups if g.part == "answer" for r in g.record_ids[1:]]
    question_of = _questions_of(session, repeated_questions + repeated_answers)
    questions = {question_of[r] for r in repeated_questions if r in question_of}
    records = {r for r in repeated_answers if question_of.get(r) not in questions}
    return questions, records


def remove_questions_and_records(
    session: Session, project: Project, questions: Iterable[int], records: Iterable[int] = ()
) -> Removal:
    """Delete whole questions (with their answers) and single records."""
    gone = delete_questions(session, project, questions)
    record_ids = list(records)
    deleted_records = delete_records(session, project, ids=record_ids).records if record_ids else 0
    return Removal(questions=gone.questions, records=gone.records + deleted_records)


def label_records(session: Session, project: Project, records: Iterable[int], label: str) -> int:
    """Put ``label`` on the records; how many changed."""
    return change_labels(session, project, set(records), add=[label])
