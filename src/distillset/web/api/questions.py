"""Questions: a filtered keyset listing, one question, edit, delete and move (one or
many), and the questions alone as a download."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from distillset import questions
from distillset.export import FileFormat
from distillset.questions import PAGE_SIZE, QuestionFilter
from distillset.store import Project
from distillset.web.deps import (
    AppStore,
    DbSession,
    optional_tag,
    project_by_id,
    question_in_project,
)
from distillset.web.schemas import AfterId, QuestionEdit, QuestionMove, QuestionSelection, RowId
from distillset.web.streaming.download import questions_download

router = APIRouter(prefix="/projects/{project_id}/questions", tags=["questions"])


@router.get("")
def list_questions(
    project_id: RowId,
    session: DbSession,
    tag_id: RowId | None = Query(default=None, description="a tag and its whole subtree"),
    answered: bool | None = None,
    q: str | None = Query(default=None, max_length=500, description="text search"),
    after: AfterId | None = Query(default=None, description="the `next` of the last page"),
    limit: int = Query(default=PAGE_SIZE, ge=1, le=1000),
) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    tag = optional_tag(session, project, tag_id)
    rows = questions.list_questions(
        session,
        project.id,
        tag_id=tag.id if tag else None,
        subtree=True,
        answered=answered,
        search=q,
        after=after,
        limit=limit,
        with_answers=True,  # answer_id of answered questions: one more query per page
    )
    return {
        "items": [row.as_dict() for row in rows],
        "next": rows[-1].id if len(rows) == limit else None,
    }


@router.get("/export")
async def export_questions(
    project_id: RowId,
    store: AppStore,
    file_format: Literal["jsonl", "csv", "json", "parquet"] = "jsonl",
    tag_id: RowId | None = Query(default=None, description="a tag and its whole subtree"),
    answered: bool | None = None,
    q: str | None = Query(default=None, max_length=500, description="text search"),
) -> StreamingResponse:
    """The questions alone (id, tag path, question) as a file, for a teacher run elsewhere."""
    chosen = QuestionFilter(tag_id=tag_id, answered=answered, search=q)
    return await questions_download(store, project_id, FileFormat(file_format), chosen)


def _chosen(
    session: Session, project: Project, body: QuestionSelection
) -> tuple[list[int] | None, QuestionFilter | None]:
    flt = QuestionFilter(tag_id=body.tag_id, answered=body.answered, search=body.q)
    return questions.chosen_questions(body.ids, flt, body.all)


@router.post("/delete")
def delete_questions(
    project_id: RowId, body: QuestionSelection, session: DbSession
) -> dict[str, int]:
    """Delete questions with their answers, by ids or by filters (`all`: every one)."""
    project = project_by_id(session, project_id)
    ids, flt = _chosen(session, project, body)
    return questions.delete_questions(session, project, ids=ids, question_filter=flt).as_dict()


@router.post("/move")
def move_questions(project_id: RowId, body: QuestionMove, session: DbSession) -> dict[str, int]:
    """Move questions (with their answers) under another tag, by ids or by filters."""
    project = project_by_id(session, project_id)
    ids, flt = _chosen(session, project, body)
    moved = questions.move_questions(session, project, body.to_tag_id, ids=ids, question_filter=flt)
    return {"moved": moved, "tag_id": body.to_tag_id}


@router.get("/{question_id}")
def get_question(project_id: RowId, question_id: RowId, session: DbSession) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    question_in_project(session, project, question_id)
    row = questions.question_row(session, project.id, question_id)
    assert row is not None
    return row.as_dict()


@router.patch("/{question_id}")
def edit_question(
    project_id: RowId, question_id: RowId, body: QuestionEdit, session: DbSession
) -> dict[str, Any]:
    """Change a question's text; its answers stay with it."""
    project = project_by_id(session, project_id)
    return questions.edit_question(session, project, question_id, body.text).as_dict()


@router.delete("/{question_id}")
def delete_question(project_id: RowId, question_id: RowId, session: DbSession) -> dict[str, Any]:
    """Delete a question with its answers."""
    project = project_by_id(session, project_id)
    deleted = questions.delete_questions(session, project, ids=[question_id])
    return {"deleted": question_id, "answers": deleted.answers}
