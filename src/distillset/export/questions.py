"""Questions alone, as a file (JSON, JSONL, CSV or Parquet) or a download: each one's id,
tag path and text, for a teacher run elsewhere (or another project's import).

The rows go through the export writers, a page of questions at a time (keyset pages of the
one question listing), so memory stays flat and a download's bytes equal the file's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError, NotFoundError
from distillset.export.atomic import PendingPath
from distillset.export.options import check_writable
from distillset.export.writers import SUFFIXES, ChunkSink, FileFormat, RowWriter, open_writer
from distillset.questions import QuestionFilter, list_questions
from distillset.store.models import Project, Tag

QUESTION_SCHEMA = pa.schema(
    [("id", pa.int64()), ("tag_path", pa.string()), ("question", pa.string())]
)
QUESTION_FILE_FORMATS = (FileFormat.JSON, FileFormat.JSONL, FileFormat.CSV, FileFormat.PARQUET)
PAGE = 2_000


@dataclass(frozen=True)
class QuestionsExport:
    file_format: str
    questions: int
    output: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"file_format": self.file_format, "questions": self.questions, "output": self.output}


def questions_file_format(output: Path | None, given: str | None = None) -> FileFormat:
    """The file type: the one given, else the output's suffix."""
    names = ", ".join(kind.value for kind in QUESTION_FILE_FORMATS)
    if given is not None:
        try:
            chosen = FileFormat(given.strip().lower())
        except ValueError:
            chosen = None
        if chosen not in QUESTION_FILE_FORMATS:
            raise InvalidInputError(f"unknown file format {given!r}: choose one of {names}")
        assert chosen is not None
        return chosen
    known = SUFFIXES.get(output.suffix.lower()) if output is not None else None
    if known is None:
        raise InvalidInputError(
            f"cannot tell the file format of {str(output)!r}: use a .jsonl, .csv, .json or "
            f".parquet name, or give the format ({names})"
        )
    return known


def _check_filter(session: Session, project: Project, question_filter: QuestionFilter) -> None:
    if question_filter.tag_id is not None:
        tag = session.get(Tag, question_filter.tag_id)
        if tag is None or tag.project_id != project.id:
            raise NotFoundError(
                f"no tag with id {question_filter.tag_id} in project {project.name!r}"
            )


def _write(
    session: Session, project: Project, question_filter: QuestionFilter, writer: RowWriter
) -> Iterator[None]:
    """Write the chosen questions a page at a time, pausing after each page."""
    after: int | None = None
    try:
        while True:
            rows = list_questions(
                session, project.id, tag_id=question_filter.tag_id, subtree=True,
                answered=question_filter.answered, search=question_filter.search,
                after=after, limit=PAGE, with_paths=True,
            )  # fmt: skip
            if not rows:
                break
            writer.write([{"id": r.id, "tag_path": r.tag_path, "question": r.text} for r in rows])
            after = rows[-1].id
            yield
    finally:
        writer.close()


def export_questions(
    session: Session,
    project: Project,
    output: Path,
    *,
    file_format: str | None = None,
    question_filter: QuestionFilter | None = None,
) -> QuestionsExport:
    """Write the chosen questions (default: all) to ``output``; the file appears whole or
    not at all."""
    chosen = question_filter or QuestionFilter()
    kind = questions_file_format(output, file_format)
    check_writable(output)
    _check_filter(session, project, chosen)
    pending = PendingPath(output)
    try:
        with pending.temp.open("wb") as sink:
            writer = open_writer(kind, sink, QUESTION_SCHEMA)
            for _ in _write(session, project, chosen, writer):
                pass
        pending.commit()
    except BaseException:
        pending.discard()
        raise
    return QuestionsExport(kind.value, writer.rows, str(output))


def stream_questions(
    session: Session,
    project: Project,
    file_format: str,
    question_filter: QuestionFilter | None = None,
) -> Iterator[bytes]:
    """The same file as byte chunks, a page of questions each (a download); checked at once.
    The session must stay open while the chunks are read."""
    chosen = question_filter or QuestionFilter()
    kind = questions_file_format(None, file_format)
    _check_filter(session, project, chosen)
    return _chunks(session, project, chosen, kind)


def _chunks(
    session: Session, project: Project, question_filter: QuestionFilter, kind: FileFormat
) -> Iterator[bytes]:
    sink = ChunkSink()
    writer = open_writer(kind, sink, QUESTION_SCHEMA)
    for _ in _write(session, project, question_filter, writer):
        if chunk := sink.drain():
            yield chunk
    if chunk := sink.drain():
        yield chunk
