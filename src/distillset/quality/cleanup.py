"""Acting on a duplicate or contamination report: label the records, or delete for good.

A repeated question is deleted with its answers (deleting only its record would leave the
question to be answered again); a repeated answer to a different question goes alone, and its
question is answered afresh. The oldest item of each group stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError
from distillset.quality.decontaminate import Contamination
from distillset.questions import QuestionsDeleted, delete_questions
from distillset.review import DuplicateGroup, change_labels, delete_records
from distillset.store.models import Answer, Project

if TYPE_CHECKING:
    from distillset.quality.semantic import SemanticGroup


@dataclass
class Cleanup:
    """What a report asks to act on: questions to delete (with their records), single
    records to delete, and the records a label goes on."""

    questions: set[int] = field(default_factory=set)
    records: set[int] = field(default_factory=set)
    to_label: set[int] = field(default_factory=set)


def _questions_of(session: Session, record_ids: Sequence[int]) -> dict[int, int]:
    """Record id -> its question's id."""
    found: dict[int, int] = {}
    for start in range(0, len(record_ids), 500):
        chunk = record_ids[start : start + 500]
        rows = session.execute(select(Answer.id, Answer.question_id).where(Answer.id.in_(chunk)))
        found.update({record: question for record, question in rows})
    return found


def lexical_cleanup(session: Session, groups: Iterable[DuplicateGroup]) -> Cleanup:
    groups = list(groups)
    repeated_questions = [r for g in groups if g.part == "question" for r in g.record_ids[1:]]
    repeated_answers = [r for g in groups if g.part == "answer" for r in g.record_ids[1:]]
    question_of = _questions_of(session, repeated_questions + repeated_answers)
    questions = {question_of[r] for r in repeated_questions if r in question_of}
    records = {r for r in repeated_answers if question_of.get(r) not in questions}
    return Cleanup(questions, records, set(repeated_questions) | set(repeated_answers))


def semantic_cleanup(groups: Iterable[SemanticGroup]) -> Cleanup:
    groups = list(groups)
    questions = {qid for group in groups for qid in group.question_ids[1:]}
    return Cleanup(questions, set(), {rid for group in groups for rid in group.duplicate_records})


def contamination_cleanup(found: Iterable[Contamination]) -> Cleanup:
    found = list(found)
    records = {record for item in found for record in item.records}
    return Cleanup({item.question_id for item in found}, set(), records)


def check_action(label: str | None, delete: bool) -> None:
    if label and delete:
        raise InvalidInputError("give a label or delete, not both")


def apply_cleanup(
    session: Session,
    project: Project,
    cleanup: Cleanup,
    *,
    label: str | None = None,
    delete: bool = False,
) -> dict[str, Any]:
    """Label the records, or delete the questions (with their records) and the records;
    says how many changed ({} when neither was asked)."""
    check_action(label, delete)
    if label:
        return {"labelled": change_labels(session, project, cleanup.to_label, add=[label])}
    if not delete:
        return {}
    gone = (
        delete_questions(session, project, ids=cleanup.questions)
        if cleanup.questions
        else QuestionsDeleted(0, 0)
    )
    ids = sorted(cleanup.records)
    alone = delete_records(session, project, ids=ids).records if ids else 0
    return {"questions_deleted": gone.questions, "records_deleted": gone.answers + alone}
