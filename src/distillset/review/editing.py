"""Reviewing the dataset: list, show, edit, confirm, score, note, label, delete records."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from distillset.domain import InvalidInputError, NotFoundError, checked_text, text_hash
from distillset.review.filters import MAX_SCORE, RecordFilter, filtered_ids_query
from distillset.review.records import DatasetRecord, fetch_page
from distillset.review.versions import keep_version
from distillset.store.models import Answer, Project, Question, utcnow

MAX_PAGE_SIZE = 1_000
MAX_LABEL_LENGTH = 100


@dataclass
class RecordPage:
    records: list[DatasetRecord]
    # Pass as ``after`` (or ``before`` when newest first) to get the next page; None at the end.
    next_cursor: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": [record.as_dict() for record in self.records],
            "next_cursor": self.next_cursor,
        }


def list_records(
    session: Session,
    project: Project,
    record_filter: RecordFilter | None = None,
    *,
    cursor: int | None = None,
    limit: int = 50,
    newest_first: bool = False,
) -> RecordPage:
    """One page of records; ``cursor`` is the ``next_cursor`` of the previous page."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"page size must be between 1 and {MAX_PAGE_SIZE}")
    flt = record_filter or RecordFilter()
    records = fetch_page(
        session,
        project,
        flt,
        after=None if newest_first else cursor,
        before=cursor if newest_first else None,
        limit=limit + 1,
        newest_first=newest_first,
    )
    more = len(records) > limit
    records = records[:limit]
    return RecordPage(records, records[-1].id if more and records else None)


def _count(session: Session, ids_query: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(ids_query.subquery())) or 0)


def count_records(session: Session, project: Project, record_filter: RecordFilter) -> int:
    return _count(session, filtered_ids_query(session, project, record_filter))


def get_answer(session: Session, project: Project, record_id: int) -> Answer:
    answer = session.get(Answer, record_id)
    if answer is None or answer.project_id != project.id:
        raise NotFoundError(f"no record {record_id} in project {project.name!r}")
    return answer


def get_record(session: Session, project: Project, record_id: int) -> DatasetRecord:
    get_answer(session, project, record_id)
    records = fetch_page(session, project, RecordFilter(ids=(record_id,)), limit=1)
    return records[0]


def edit_record(
    session: Session,
    project: Project,
    record_id: int,
    *,
    question: str | None = None,
    answer: str | None = None,
    reasoning: str | None = None,
    clear_reasoning: bool = False,
) -> DatasetRecord:
    """Change the texts of a record. ``None`` keeps a field; an empty answer or question is
    refused (a record is a question with its answer: delete it instead), an empty reasoning
    (or ``clear_reasoning``) removes it."""
    row = get_answer(session, project, record_id)
    for part, text in (("question", question), ("answer", answer), ("reasoning", reasoning)):
        if text is not None:
            checked_text(part, text, None, single_line=False)  # NUL, ESC... refused
    for part, text in (("question", question), ("answer", answer)):
        if text is not None and not text.strip():
            raise InvalidInputError(
                f"a record's {part} cannot be empty; to drop the record, delete it "
                f"(distillset dataset delete {project.name!r} {record_id})"
            )
    new_reasoning = (
        None
        if clear_reasoning or (reasoning is not None and not reasoning.strip())
        else (reasoning if reasoning is not None else row.reasoning)
    )
    if (answer is not None and answer != row.answer) or new_reasoning != row.reasoning:
        keep_version(session, row, "edited")  # the text it had stays in its history
    if answer is not None:
        row.answer = answer
    if clear_reasoning or (reasoning is not None and not reasoning.strip()):
        row.reasoning = None
    elif reasoning is not None:
        row.reasoning = reasoning
    if question is not None:
        set_question_text(session, project, row.question_id, question)
    session.flush()
    return get_record(session, project, record_id)


def set_question_text(session: Session, project: Project, question_id: int, text: str) -> None:
    """Change a question's text (its answers stay); refused when it is empty, holds
    characters that cannot be stored, or asks what another question of the project asks
    (compared as normalized text)."""
    checked_text("question", text, None, single_line=False)
    if not text.strip():
        raise InvalidInputError("a question cannot be empty; to drop it, delete it")
    question = session.get(Question, question_id)
    if question is None or question.project_id != project.id:
        raise NotFoundError(f"no question {question_id} in project {project.name!r}")
    new_hash = text_hash(text)
    clash = session.scalar(
        select(Question.id).where(
            Question.project_id == project.id,
            Question.text_hash == new_hash,
            Question.id != question_id,
        )
    )
    if clash is not None:
        raise InvalidInputError(f"question {clash} of this project already asks the same")
    question.text = text
    question.text_hash = new_hash
    session.flush()


def chosen_records(
    ids: Iterable[int] | None, record_filter: RecordFilter, everything: bool
) -> tuple[list[int] | None, RecordFilter | None]:
    """What a bulk change covers: ids, or a filter; the whole project only when asked for out
    loud (``everything``, the CLI's --all), never because no filter was given."""
    chosen = list(ids or ())
    if chosen:
        if record_filter.as_dict() or everything:
            raise InvalidInputError("give record ids or filters, not both")
        return chosen, None
    if not record_filter.as_dict() and not everything:
        raise InvalidInputError("name records by id, select them with filters, or pass --all")
    return None, record_filter


def chosen_filter(
    ids: Iterable[int] | None, record_filter: RecordFilter, everything: bool
) -> RecordFilter:
    """``chosen_records`` as one filter, for a task that keeps what it covers: the ids
    become a filter of their own."""
    chosen_ids, chosen = chosen_records(ids, record_filter, everything)
    return chosen or RecordFilter(ids=tuple(chosen_ids or ()))


def _target_ids(
    session: Session,
    project: Project,
    ids: Iterable[int] | None,
    record_filter: RecordFilter | None,
) -> Any:
    """The ids a bulk change covers: explicit ids (all must exist) or a filter."""
    if ids is not None:
        wanted = sorted(set(ids))
        if not wanted:
            raise InvalidInputError("name at least one record")
        found = set(
            session.scalars(
                select(Answer.id).where(Answer.project_id == project.id, Answer.id.in_(wanted))
            )
        )
        missing = [record_id for record_id in wanted if record_id not in found]
        if missing:
            shown = ", ".join(map(str, missing[:10]))
            raise NotFoundError(f"no record {shown} in project {project.name!r}")
        return filtered_ids_query(session, project, RecordFilter(ids=tuple(wanted)))
    if record_filter is None:
        raise InvalidInputError("name records by id or give a filter")
    return filtered_ids_query(session, project, record_filter)


def _bulk_update(
    session: Session,
    project: Project,
    ids: Iterable[int] | None,
    record_filter: RecordFilter | None,
    values: dict[str, Any],
) -> int:
    target = _target_ids(session, project, ids, record_filter)
    # Counted apart: drivers report no rowcount for an UPDATE led by a WITH (tag subtree) clause.
    matched = _count(session, target)
    session.execute(
        update(Answer).where(Answer.id.in_(target)).values(**values),
        execution_options={"synchronize_session": False},
    )
    session.expire_all()
    return matched


def set_confirmed(
    session: Session,
    project: Project,
    confirmed: bool,
    *,
    ids: Iterable[int] | None = None,
    record_filter: RecordFilter | None = None,
) -> int:
    """Confirm or unconfirm records by id or by filter; returns how many matched."""
    return _bulk_update(session, project, ids, record_filter, {"confirmed": confirmed})


def checked_score(score: float) -> float:
    """A score as stored: 0-5 in steps of 0.5; anything else is refused."""
    if math.isnan(score) or not 0 <= score <= MAX_SCORE or (score * 2) != int(score * 2):
        raise InvalidInputError(f"a score is 0 to 5 in steps of 0.5, not {score:g}")
    return float(score)


def score_values(score: float | None, reason: str | None) -> dict[str, Any]:
    """The columns a score sets (``None`` clears it, with its reason and moment)."""
    if score is None:
        return {"score": None, "score_reason": None, "scored_at": None}
    return {"score": score, "score_reason": reason, "scored_at": utcnow()}


def set_score(
    session: Session,
    project: Project,
    score: float | None,
    *,
    reason: str | None = None,
    ids: Iterable[int] | None = None,
    record_filter: RecordFilter | None = None,
) -> int:
    """Score records (``None`` clears the score and its reason)."""
    value = None if score is None else checked_score(score)
    return _bulk_update(
        session,
        project,
        ids,
        record_filter,
        score_values(value, reason),
    )


def set_note(session: Session, project: Project, record_id: int, note: str | None) -> None:
    """Attach a note to a record; an empty note removes it."""
    row = get_answer(session, project, record_id)
    if note:
        checked_text("note", note, None, single_line=False)
    row.note = note if note and note.strip() else None
    session.flush()


def _checked_label(label: str) -> str:
    cleaned = label.strip()
    if not cleaned or len(cleaned) > MAX_LABEL_LENGTH:
        raise InvalidInputError(f"a label is 1 to {MAX_LABEL_LENGTH} characters, not {label!r}")
    return checked_text("label", cleaned, MAX_LABEL_LENGTH)


def change_labels(
    session: Session,
    project: Project,
    record_ids: Iterable[int],
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> int:
    """Add and remove custom labels on records (labels keep their first-added order)."""
    to_add = [_checked_label(label) for label in add]
    to_remove = {label.strip() for label in remove}
    changed = 0
    for record_id in sorted(set(record_ids)):
        row = get_answer(session, project, record_id)
        labels = [label for label in (row.labels or []) if label not in to_remove]
        labels += [label for label in dict.fromkeys(to_add) if label not in labels]
        if labels != list(row.labels or []):
            row.labels = labels
            changed += 1
    session.flush()
    return changed


@dataclass
class DeleteResult:
    records: int
    questions_unanswered: int


def delete_records(
    session: Session,
    project: Project,
    *,
    ids: Iterable[int] | None = None,
    record_filter: RecordFilter | None = None,
) -> DeleteResult:
    """Delete records; their questions stay and count as unanswered when no answer is left."""
    target = _target_ids(session, project, ids, record_filter)
    # Counted before deleting, in SQL: questions whose every answer is among the deleted.
    other = aliased(Answer)
    unanswered = session.scalar(
        select(func.count(func.distinct(Answer.question_id))).where(
            Answer.id.in_(target),
            ~exists().where(other.question_id == Answer.question_id, other.id.not_in(target)),
        )
    )
    matched = _count(session, target)
    # A user who deletes a record wants a new one: the question's next answer request
    # carries the next attempt number, so it is sent fresh, not replayed from the cache.
    session.execute(
        update(Question)
        .where(Question.id.in_(select(Answer.question_id).where(Answer.id.in_(target))))
        .values(answer_attempt=Question.answer_attempt + 1),
        execution_options={"synchronize_session": False},
    )
    session.execute(
        delete(Answer).where(Answer.id.in_(target)),
        execution_options={"synchronize_session": False},
    )
    session.expire_all()
    return DeleteResult(records=matched, questions_unanswered=int(unanswered or 0))
