"""Dataset review: records (question + answer) listed with filters, edited, confirmed, deleted."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from distillset import review as service
from distillset.web.api._jobs import in_session
from distillset.web.api._record_edit import apply_record_update
from distillset.web.api._record_filters import record_filter
from distillset.web.api._refine import create_refine, refine_one
from distillset.web.deps import AppSettings, AppStore, DbSession, Runner, project_by_id
from distillset.web.schemas import (
    AfterId,
    BulkConfirm,
    OneRefine,
    RecordRefine,
    RecordRestore,
    RecordUpdate,
    RowId,
)

router = APIRouter(prefix="/projects/{project_id}/records", tags=["dataset"])


@router.get("")
def list_records(
    project_id: RowId,
    session: DbSession,
    tag_id: RowId | None = None,
    confirmed: bool | None = None,
    scored: bool | None = None,
    min_score: float | None = Query(default=None, ge=0, le=5),
    max_score: float | None = Query(default=None, ge=0, le=5),
    q: str | None = Query(default=None, max_length=500),
    cursor: AfterId | None = None,
    limit: int = Query(default=50, ge=1, le=1000),
    newest_first: bool = False,
) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    flt = record_filter(
        session,
        project,
        tag_id=tag_id,
        confirmed=confirmed,
        scored=scored,
        min_score=min_score,
        max_score=max_score,
        search=q,
    )
    page = service.list_records(
        session, project, flt, cursor=cursor, limit=limit, newest_first=newest_first
    )
    return page.as_dict()


@router.post("/confirm")
def confirm_records(project_id: RowId, body: BulkConfirm, session: DbSession) -> dict[str, int]:
    project = project_by_id(session, project_id)
    return {"matched": service.set_confirmed(session, project, body.confirmed, ids=body.ids)}


@router.get("/{record_id}")
def get_record(project_id: RowId, record_id: RowId, session: DbSession) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    return service.get_record(session, project, record_id).as_dict()


@router.patch("/{record_id}")
def update_record(
    project_id: RowId, record_id: RowId, body: RecordUpdate, session: DbSession
) -> dict[str, Any]:
    """Change any of: texts, confirmed, score (null clears it), note, labels (the full list)."""
    project = project_by_id(session, project_id)
    apply_record_update(session, project, record_id, body)
    return service.get_record(session, project, record_id).as_dict()


@router.delete("/{record_id}")
def delete_record(project_id: RowId, record_id: RowId, session: DbSession) -> dict[str, int]:
    project = project_by_id(session, project_id)
    result = service.delete_records(session, project, ids=[record_id])
    return {"deleted": result.records, "questions_unanswered": result.questions_unanswered}


@router.post("/refine", status_code=202)
async def refine_records(
    project_id: RowId, body: RecordRefine, store: AppStore, settings: AppSettings, runner: Runner
) -> dict[str, Any]:
    """Start a refine task over the chosen records (ids, filters, or `all`): the answer
    model rewrites each answer following the advice; follow it under /tasks/{id}."""
    task = await in_session(store, create_refine, settings, project_id, body)
    runner.start(task["id"])
    return task


@router.post("/{record_id}/refine")
async def refine_record(
    project_id: RowId, record_id: RowId, body: OneRefine, settings: AppSettings, runner: Runner
) -> dict[str, Any]:
    """Refine one record and wait: ``record`` as it is now and the ``task`` (its status and
    last_error say why a failed refine left the text as it was)."""
    return await refine_one(
        runner, settings, project_id, record_id, body.advice, body.model, body.max_cost
    )


@router.get("/{record_id}/history")
def record_history(project_id: RowId, record_id: RowId, session: DbSession) -> list[dict[str, Any]]:
    """The record's earlier texts, oldest first, with what replaced each."""
    project = project_by_id(session, project_id)
    return [version.as_dict() for version in service.record_history(session, project, record_id)]


@router.post("/{record_id}/restore")
def restore_record(
    project_id: RowId, record_id: RowId, body: RecordRestore, session: DbSession
) -> dict[str, Any]:
    """Bring back an earlier version; the current text becomes the newest version."""
    project = project_by_id(session, project_id)
    return service.restore_version(session, project, record_id, body.version).as_dict()
