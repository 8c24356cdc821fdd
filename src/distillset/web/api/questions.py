"""Questions: a filtered keyset listing, one question, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from distillset import questions
from distillset.questions import PAGE_SIZE
from distillset.web.deps import DbSession, optional_tag, project_by_id, question_in_project
from distillset.web.schemas import AfterId, RowId

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


@router.get("/{question_id}")
def get_question(project_id: RowId, question_id: RowId, session: DbSession) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    question_in_project(session, project, question_id)
    row = questions.question_row(session, project.id, question_id)
    assert row is not None
    return row.as_dict()


@router.delete("/{question_id}")
def delete_question(project_id: RowId, question_id: RowId, session: DbSession) -> dict[str, Any]:
    """Delete a question with its answers."""
    project = project_by_id(session, project_id)
    session.delete(question_in_project(session, project, question_id))
    session.flush()
    return {"deleted": question_id}
