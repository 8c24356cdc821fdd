"""Pages: managing questions (edit or delete one; delete or move the selected ones, or every
one the filter matches), through the questions package as the CLI and the API do."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from distillset import questions as service
from distillset import resolve
from distillset.domain import InvalidInputError
from distillset.questions import QuestionFilter
from distillset.store import TagPaths
from distillset.web.deps import DbSession, project_by_id, question_in_project
from distillset.web.pages.common import render
from distillset.web.pages.review import YES_NO, questions_context, tag_id_of
from distillset.web.schemas import RowId

router = APIRouter(prefix="/projects/{project_id}/questions")

MAX_SELECTED = 10_000


@router.post("/{question_id}/edit")
def edit_question(
    project_id: RowId,
    question_id: RowId,
    request: Request,
    session: DbSession,
    text: Annotated[str, Form(min_length=1)],
) -> Response:
    """The row again with its new text (the answers stay with the question)."""
    project = project_by_id(session, project_id)
    question_in_project(session, project, question_id)
    row = service.edit_question(session, project, question_id, text)
    paths = TagPaths(session)
    return render(
        request,
        "_question_row.html",
        project=project,
        q=row,
        paths={row.tag_id: paths.path(row.tag_id)},
        notice="Saved.",
    )


@router.post("/{question_id}/delete")
def delete_question(
    project_id: RowId, question_id: RowId, request: Request, session: DbSession
) -> Response:
    project = project_by_id(session, project_id)
    question_in_project(session, project, question_id)
    deleted = service.delete_questions(session, project, ids=[question_id])
    return render(
        request,
        "_question_deleted.html",
        text=f"Question #{question_id} deleted with {deleted.answers} answers.",
    )


@router.post("/bulk")
def bulk_questions(
    project_id: RowId,
    request: Request,
    session: DbSession,
    action: Annotated[str, Form(pattern="^(delete|move)$")],
    scope: Annotated[str, Form(pattern="^(selected|filter)$")] = "selected",
    ids: Annotated[list[RowId], Form(max_length=MAX_SELECTED)] = [],  # noqa: B006
    tag: Annotated[str, Form(max_length=5000)] = "",
    answered: Annotated[str, Form(pattern="^(yes|no|)$")] = "",
    q: Annotated[str, Form(max_length=500)] = "",
    to_tag: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Delete or move the checked questions, or every question the page's filter matches
    (never the whole project from an empty filter: the core refuses that)."""
    project = project_by_id(session, project_id)
    flt = QuestionFilter(
        tag_id=tag_id_of(session, project, tag), answered=YES_NO.get(answered), search=q or None
    )
    if scope == "selected":
        if not ids:
            raise InvalidInputError("select at least one question (or choose: every match)")
        chosen, chosen_filter = service.chosen_questions(ids, QuestionFilter(), False)
    else:
        chosen, chosen_filter = service.chosen_questions(None, flt, False)
    if action == "delete":
        result = service.delete_questions(
            session, project, ids=chosen, question_filter=chosen_filter
        )
        notice = f"Deleted {result.questions} questions with {result.answers} answers."
    else:
        if not to_tag.strip():
            raise InvalidInputError("to tag: give the path of the tag to move them under")
        target = resolve.tag_id(session, project, to_tag)
        assert target is not None
        moved = service.move_questions(
            session, project, target, ids=chosen, question_filter=chosen_filter
        )
        notice = f"Moved {moved} questions under {to_tag.strip()}."
    session.flush()
    context = questions_context(session, project, tag or None, answered, q or None)
    return render(request, "questions.html", notice=notice, **context)
