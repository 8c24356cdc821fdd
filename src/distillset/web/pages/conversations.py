"""Pages: a project's conversations, each with its turns; confirm, score, note, edit a turn,
delete, judge as a task (the same services as `distillset conversations` and the Python
API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session

from distillset import review as review_service
from distillset.projects import list_endpoints
from distillset.web.api import _jobs as jobs
from distillset.web.deps import AppStore, DbSession, Runner, project_by_id
from distillset.web.pages.common import message, redirect, render
from distillset.web.pages.forms import parse_form
from distillset.web.schemas import AfterId, ConversationUpdate, RowId, TurnUpdate, form_budget

router = APIRouter(prefix="/projects/{project_id}")
PAGE = 20


@router.get("/conversations")
def conversations_page(
    project_id: RowId, request: Request, session: DbSession, cursor: AfterId | None = None
) -> Response:
    project = project_by_id(session, project_id)
    found = review_service.list_conversations(session, project, after=cursor, limit=PAGE + 1)
    return render(
        request,
        "conversations.html",
        project=project,
        active="conversations",
        conversations=found[:PAGE],
        next_cursor=found[PAGE - 1].id if len(found) > PAGE else None,
        # The judge form's choice of model (blank: the project's answer model).
        judge_models=[endpoint.alias for endpoint in list_endpoints(session)],
    )


@router.post("/conversations/judge")
async def start_conversation_judge(
    project_id: RowId,
    request: Request,
    store: AppStore,
    runner: Runner,
    model: Annotated[str, Form(max_length=100)] = "",
    rescore: Annotated[bool, Form()] = False,
    max_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Score complete conversations with the judge model as a task (the unscored ones, or
    all of them when rescoring), followed on its task page."""

    budget = form_budget(max_cost)

    def create(session: Session) -> int:
        project = project_by_id(session, project_id)
        task = review_service.create_conversation_judge_task(
            session, project, model=model or None, rescore=rescore, max_cost=budget
        )
        return task.id

    task_id = await jobs.in_session(store, create)
    runner.start(task_id)
    return redirect(request, f"/projects/{project_id}/tasks/{task_id}")


def _fragment(request: Request, store: AppStore, project_id: int, conversation_id: int) -> Response:
    with store.session() as session:
        project = project_by_id(session, project_id)
        talk = review_service.get_conversation(session, project, conversation_id)
        return render(request, "_conversation.html", project=project, talk=talk)


@router.post("/conversations/{conversation_id}")
async def update_conversation(
    project_id: RowId, conversation_id: RowId, request: Request, store: AppStore
) -> Response:
    form = await request.form()
    body = parse_form(ConversationUpdate, form, keep_empty=frozenset({"note"}))
    with store.session() as session:
        project = project_by_id(session, project_id)
        ids = [conversation_id]
        if body.confirmed is not None:
            review_service.set_conversations_confirmed(session, project, ids, body.confirmed)
        if "score" in form:
            review_service.set_conversation_score(session, project, ids, body.score)
        if body.note is not None:
            review_service.set_conversation_note(session, project, conversation_id, body.note)
    return _fragment(request, store, project_id, conversation_id)


@router.post("/conversations/{conversation_id}/turns/{position}")
async def update_turn(
    project_id: RowId, conversation_id: RowId, position: int, request: Request, store: AppStore
) -> Response:
    # An emptied text is refused (delete the conversation instead), not ignored.
    texts = frozenset({"content", "reasoning"})
    body = parse_form(TurnUpdate, await request.form(), keep_empty=texts)
    with store.session() as session:
        project = project_by_id(session, project_id)
        review_service.edit_turn(
            session,
            project,
            conversation_id,
            position,
            content=body.content,
            reasoning=body.reasoning,
        )
    return _fragment(request, store, project_id, conversation_id)


@router.post("/conversations/{conversation_id}/delete")
def delete_conversation(
    project_id: RowId, conversation_id: RowId, request: Request, session: DbSession
) -> Response:
    project = project_by_id(session, project_id)
    review_service.delete_conversations(session, project, [conversation_id])
    return message(request, f"Conversation #{conversation_id} deleted.")
