"""Importing a dataset file: its records become questions (origin ``imported``) under one
tag, with their answers and reasoning; a row of several exchanges becomes a complete
conversation of its question, with its turns and system prompt (its setting says
``origin: imported``).

The whole file is read and checked first (size, row count, shape, every row's texts); the
first bad row is refused with where it is, before anything is written. The records are then
inserted in the caller's one transaction, in bulk: questions the project already has
(compared as normalized text) and repeats within the file are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError, NotFoundError, Origin, text_hash
from distillset.review.import_files import import_format_of, read_source_rows
from distillset.review.import_shapes import ImportedRecord, checked_fields, choose_shape
from distillset.store.models import (
    Answer,
    Conversation,
    ConversationTurn,
    Project,
    Question,
    Tag,
)
from distillset.tags.tree import add_tag, find_tag, tag_path

# Where records go when no tag is given: a top-level tag of this name (made when missing).
DEFAULT_IMPORT_TAG = "Imported"
_BATCH = 5_000


@dataclass(frozen=True)
class ImportedDataset:
    """A dataset file read and checked whole: nothing of it is written yet."""

    file_format: str
    shape: str
    records: list[ImportedRecord]


@dataclass(frozen=True)
class ImportResult:
    file_format: str
    shape: str
    read: int  # records in the file
    questions: int  # questions created
    answers: int  # answers created with them
    duplicates: int  # skipped: the project or an earlier row already asks the same
    tag_id: int
    tag_path: str
    conversations: int = 0  # conversations created (rows of several exchanges)
    # The ids of the questions created (for an auto-tag task); not part of the summary.
    question_ids: list[int] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_format": self.file_format,
            "shape": self.shape,
            "read": self.read,
            "questions": self.questions,
            "answers": self.answers,
            "conversations": self.conversations,
            "duplicates": self.duplicates,
            "tag_id": self.tag_id,
            "tag_path": self.tag_path,
        }


def read_dataset(
    path: Path | str,
    *,
    file_format: str | None = None,
    shape: str | None = None,
    fields: Mapping[str, str] | None = None,
) -> ImportedDataset:
    """Read and check a whole dataset file (or `datasets` directory); InvalidInputError
    naming the first bad row. ``fields`` (question=..., answer=..., reasoning=...) names the
    columns of a custom shape; without an answer column, the questions come alone."""
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"no such file or directory: {str(path)!r}")
    chosen_format = import_format_of(path, file_format)
    rows = read_source_rows(path, chosen_format)
    if not rows:
        raise InvalidInputError(f"{path.name} holds no records")
    given = dict(fields or {})
    names = checked_fields(given)
    keys = set(rows[0].values)
    row_shape = choose_shape(keys, shape, given)
    if row_shape.name == "custom" and names["answer"] not in keys:
        del names["answer"]  # questions alone (a questions export, say)
    records = [row_shape.read(row, names) for row in rows]
    return ImportedDataset(chosen_format, row_shape.name, records)


def import_target(session: Session, project: Project, tag_id: int | None) -> Tag:
    """The tag imported records go under: the one given, else the top-level tag named
    DEFAULT_IMPORT_TAG (made when missing)."""
    if tag_id is not None:
        tag = session.get(Tag, tag_id)
        if tag is None or tag.project_id != project.id:
            raise NotFoundError(f"no tag with id {tag_id} in project {project.name!r}")
        return tag
    try:
        return find_tag(session, project, DEFAULT_IMPORT_TAG)
    except NotFoundError:
        return add_tag(session, project.id, None, DEFAULT_IMPORT_TAG, Origin.IMPORTED)


def _insert_questions(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert the questions the project does not have yet, leaving those it has (the unique
    normalized-text key decides, in the database, so a question added meanwhile is skipped
    too); the new ones' ids by text hash."""
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    statement = (
        dialect.insert(Question.__table__)
        .on_conflict_do_nothing()
        .returning(Question.__table__.c.text_hash, Question.__table__.c.id)
    )
    connection = session.connection()
    created: dict[str, int] = {}
    for start in range(0, len(rows), _BATCH):
        for key, question_id in connection.execute(statement, rows[start : start + _BATCH]):
            created[key] = question_id
    return created


def _insert_conversations(
    session: Session, project: Project, talks: list[tuple[int, ImportedRecord]]
) -> int:
    """Store each (question id, record of several exchanges) as a complete conversation
    with its turns; how many."""
    connection = session.connection()
    for start in range(0, len(talks), _BATCH):
        batch = talks[start : start + _BATCH]
        rows = [
            {
                "question_id": question_id,
                "project_id": project.id,
                "rounds": len(record.turns) // 2,
                "setting": {"system_prompt": record.system_prompt, "origin": Origin.IMPORTED.value},
                "complete": True,
            }
            for question_id, record in batch
        ]
        made = dict(
            connection.execute(
                insert(Conversation).returning(Conversation.question_id, Conversation.id), rows
            ).all()
        )
        turn_rows = [
            {
                "conversation_id": made[question_id],
                "position": position,
                "role": turn.role,
                "content": turn.content,
                "reasoning": turn.reasoning,
            }
            for question_id, record in batch
            for position, turn in enumerate(record.turns)
        ]
        for first in range(0, len(turn_rows), _BATCH):
            connection.execute(insert(ConversationTurn), turn_rows[first : first + _BATCH])
    return len(talks)


def import_records(
    session: Session, project: Project, dataset: ImportedDataset, tag_id: int | None = None
) -> ImportResult:
    """Store a checked dataset's new questions (and answers) under the tag (see
    import_target), in the session's transaction."""
    tag = import_target(session, project, tag_id)
    fresh: dict[str, ImportedRecord] = {}  # the first row of each question in the file
    for record in dataset.records:
        fresh.setdefault(text_hash(record.question), record)
    question_rows = [
        {
            "project_id": project.id,
            "tag_id": tag.id,
            "text": record.question,
            "text_hash": key,
            "origin": Origin.IMPORTED.value,
        }
        for key, record in fresh.items()
    ]
    created = _insert_questions(session, question_rows)
    answer_rows: list[dict[str, Any]] = [  # in the file's order, as the questions came
        {
            "question_id": created[key],
            "project_id": project.id,
            "variant": 0,
            "answer": record.answer,
            "reasoning": record.reasoning,
            "labels": [],
        }
        for key, record in fresh.items()
        if key in created and record.answer is not None
    ]
    connection = session.connection()
    for start in range(0, len(answer_rows), _BATCH):
        connection.execute(insert(Answer), answer_rows[start : start + _BATCH])
    talks = [(created[key], record) for key, record in fresh.items() if key in created]
    conversations = _insert_conversations(session, project, [t for t in talks if t[1].turns])
    session.expire_all()
    return ImportResult(
        file_format=dataset.file_format,
        shape=dataset.shape,
        read=len(dataset.records),
        questions=len(created),
        answers=len(answer_rows),
        duplicates=len(dataset.records) - len(created),
        tag_id=tag.id,
        tag_path=str(tag_path(session, tag)),
        conversations=conversations,
        question_ids=sorted(created.values()),
    )


def import_dataset(
    session: Session,
    project: Project,
    path: Path | str,
    *,
    tag_id: int | None = None,
    file_format: str | None = None,
    shape: str | None = None,
    fields: Mapping[str, str] | None = None,
) -> ImportResult:
    """Read and check the whole file, then import it (see read_dataset, import_records)."""
    dataset = read_dataset(path, file_format=file_format, shape=shape, fields=fields)
    return import_records(session, project, dataset, tag_id)
