"""Multi-turn conversations: listed with filters, shown, confirmed, scored, noted, a turn
edited, deleted, and judged as a task (the services of `distillset conversations`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from distillset import review as service
from distillset.config import Settings
from distillset.domain import MAX_ID, InvalidInputError
from distillset.kinds import task_as_dict
from distillset.web.api._jobs import in_session
from distillset.web.api._record_filters import record_filter
from distillset.web.deps import AppSettings, AppStore, DbSession, Runner, project_by_id
from distillset.web.schemas import (
    AfterId,
    BulkConfirm,
    ConversationJudge,
    ConversationUpdate,
    RowId,
    TurnUpdate,
)

router = APIRouter(prefix="/projects/{project_id}/conversations", tags=["conversations"])


@router.get("")
def list_conversations(
    project_id: RowId,
    session: DbSession,
    tag_id: RowId | None = None,
    confirmed: bool | None = None,
    scored: bool | None = None,
    min_score: float | None = Query(default=None, ge=0, le=5),
    max_score: float | None = Query(default=None, ge=0, le=5),
    complete: bool | None = None,
    cursor: AfterId | None = None,
    limit: int = Query(default=50, ge=1, le=1000),
) -> dict[str, Any]:
    """One page in id order, each conversation with its turns; ``next_cursor`` (the last id
    shown) asks for the next page, null on the last one."""
    project = project_by_id(session, project_id)
    flt = record_filter(
        session,
        project,
        tag_id=tag_id,
        confirmed=confirmed,
        scored=scored,
        min_score=min_score,
        max_score=max_score,
    )
    found = service.list_conversations(
        session, project, flt, complete=complete, after=cursor, limit=limit + 1
    )
    page = found[:limit]
    return {
        "conversations": [record.as_dict() for record in page],
        "next_cursor": page[-1].id if len(found) > limit else None,
    }


@router.post("/confirm")
def confirm_conversations(
    project_id: RowId, body: BulkConfirm, session: DbSession
) -> dict[str, int]:
    project = project_by_id(session, project_id)
    changed = service.set_conversations_confirmed(session, project, body.ids, body.confirmed)
    return {"matched": changed}


def _start_judge(
    session: Session, settings: Settings, project_id: int, body: ConversationJudge
) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    flt = record_filter(
        session,
        project,
        tag_id=body.tag_id,
        confirmed=body.confirmed,
        scored=body.scored,
        min_score=body.min_score,
        max_score=body.max_score,
    )
    task = service.create_conversation_judge_task(
        session,
        project,
        model=body.model,
        record_filter=replace(flt, ids=tuple(body.ids or ())),
        rescore=body.rescore,
        no_cache=body.fresh,
        max_cost=body.max_cost,
    )
    return task_as_dict(task, settings)


@router.post("/judge", status_code=202)
async def judge_conversations(
    project_id: RowId,
    body: ConversationJudge,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
) -> dict[str, Any]:
    """Start a task that scores complete conversations 0-5 as a whole (the unscored ones
    the filters keep, or scored ones too with ``rescore`` or ids); follow it, cancel or
    resume it under /tasks/{id}."""
    task = await in_session(store, _start_judge, settings, project_id, body)
    runner.start(task["id"])
    return task


@router.get("/{conversation_id}")
def get_conversation(
    project_id: RowId, conversation_id: RowId, session: DbSession
) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    return service.get_conversation(session, project, conversation_id).as_dict()


@router.patch("/{conversation_id}")
def update_conversation(
    project_id: RowId, conversation_id: RowId, body: ConversationUpdate, session: DbSession
) -> dict[str, Any]:
    """Change any of: confirmed, score (null clears it) with its reason, note."""
    project = project_by_id(session, project_id)
    given, ids = body.model_fields_set, [conversation_id]
    service.get_conversation(session, project, conversation_id)  # 404 before any change
    if body.confirmed is not None:
        service.set_conversations_confirmed(session, project, ids, body.confirmed)
    if "score" in given:
        service.set_conversation_score(session, project, ids, body.score, reason=body.score_reason)
    if "note" in given:
        service.set_conversation_note(session, project, conversation_id, body.note)
    return service.get_conversation(session, project, conversation_id).as_dict()


@router.patch("/{conversation_id}/turns/{position}")
def update_turn(
    project_id: RowId,
    conversation_id: RowId,
    position: Annotated[int, Path(ge=0, le=MAX_ID)],
    body: TurnUpdate,
    session: DbSession,
) -> dict[str, Any]:
    """Change one turn (0: the question): its text, and a teacher turn's reasoning ("" or
    null removes it); an empty text is refused (delete the conversation instead)."""
    project = project_by_id(session, project_id)
    given = body.model_fields_set
    if not given & {"content", "reasoning"}:
        raise InvalidInputError("nothing to change: give content or reasoning")
    reasoning = body.reasoning
    if "reasoning" in given and reasoning is None:
        reasoning = ""  # null removes it, as "" does
    record = service.edit_turn(
        session, project, conversation_id, position, content=body.content, reasoning=reasoning
    )
    return record.as_dict()


@router.delete("/{conversation_id}")
def delete_conversation(
    project_id: RowId, conversation_id: RowId, session: DbSession
) -> dict[str, int]:
    """Delete the conversation with its turns; its question stays (a later multi-turn run
    makes it a new one)."""
    project = project_by_id(session, project_id)
    return {"deleted": service.delete_conversations(session, project, [conversation_id])}
