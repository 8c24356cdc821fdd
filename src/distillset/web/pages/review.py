"""Pages: questions (filters, answer unanswered), dataset review."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from distillset import resolve
from distillset import review as review_service
from distillset.domain import MAX_ID, DistillsetError
from distillset.projects import list_endpoints
from distillset.questions import PAGE_SIZE, list_questions
from distillset.review import RecordFilter, fetch_page
from distillset.store import Project, TagPaths
from distillset.web.api import _jobs as jobs
from distillset.web.api._record_edit import apply_record_update
from distillset.web.api._record_filters import record_filter
from distillset.web.api._refine import refine_one
from distillset.web.deps import AppSettings, AppStore, DbSession, Runner, project_by_id
from distillset.web.errors import status_for
from distillset.web.pages.common import message, redirect, render
from distillset.web.pages.forms import optional_number, parse_form
from distillset.web.schemas import AfterId, AnswerTask, RecordUpdate, RowId, form_budget

router = APIRouter(prefix="/projects/{project_id}")

YES_NO = {"yes": True, "no": False}
RECORD_PAGE = 20


def tag_id_of(session: Session, project: Project, path: str | None) -> int | None:
    """A page's typed tag filter (blank: no filter), resolved by the one resolver."""
    return resolve.tag_id(session, project, path) if path and path.strip() else None


def _query(**values: Any) -> str:
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def questions_context(
    session: Session,
    project: Project,
    tag: str | None,
    answered: str,
    q: str | None,
    after: int | None = None,
) -> dict[str, Any]:
    """The questions page's listing; a filter that names no tag comes back with the reason."""
    refusal: DistillsetError | None = None
    try:
        rows = list_questions(
            session,
            project.id,
            tag_id=tag_id_of(session, project, tag),
            subtree=True,
            answered=YES_NO.get(answered),
            search=q,
            after=after,
        )
    except DistillsetError as exc:
        refusal, rows = exc, []
    paths = TagPaths(session)
    paths.load(row.tag_id for row in rows)
    return {
        "status_code": status_for(refusal) if refusal else 200,
        "project": project,
        "active": "questions",
        "questions": rows,
        "paths": {row.tag_id: paths.path(row.tag_id) for row in rows},
        "filters": {"tag": tag, "answered": answered, "q": q},
        "filter_error": str(refusal) if refusal else None,
        "after": after,
        "next_after": rows[-1].id if len(rows) == PAGE_SIZE else None,
        "base_query": _query(tag=tag, answered=answered, q=q),
    }


@router.get("/questions")
def questions_page(
    project_id: RowId,
    request: Request,
    session: DbSession,
    tag: str | None = Query(default=None, max_length=5000),
    answered: str = Query(default="", pattern="^(yes|no|)$"),
    q: str | None = Query(default=None, max_length=500),
    after: AfterId | None = None,
) -> Response:
    project = project_by_id(session, project_id)
    context = questions_context(session, project, tag, answered, q, after)
    return render(request, "questions.html", **context)


@router.post("/questions/answer-unanswered")
async def answer_unanswered(
    project_id: RowId,
    request: Request,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
    tag: Annotated[str, Form()] = "",
) -> Response:
    """Answer the (subtree's) unanswered questions as a task; the answer fields are the
    API's (samples, temperature, batch)."""
    body = parse_form(AnswerTask, await request.form())

    def create(session: Session) -> jobs.PlannedJob:
        project = project_by_id(session, project_id)
        return jobs.create_answers(
            session,
            settings,
            project_id,
            tag_id_of(session, project, tag),
            body,
        )

    job = await jobs.in_session(store, create)
    runner.start(job.task_id, use_cache=not body.fresh)
    return redirect(request, f"/projects/{project_id}/tasks/{job.task_id}")


def dataset_context(
    session: Session,
    project: Project,
    values: dict[str, str],
    cursor: int | None = None,
) -> dict[str, Any]:
    """Newest first; a filter the dataset refuses (no such tag, a score out of range) comes
    back with the reason beside it, as typed. ``values``: the filter fields as typed."""
    refusal: DistillsetError | None = None
    try:
        flt = dataset_filter(session, project, values)
        # The page reads only its own tags' paths (see TagPaths).
        records = fetch_page(
            session, project, flt, before=cursor, limit=RECORD_PAGE + 1, newest_first=True
        )
    except DistillsetError as exc:
        refusal, records = exc, []
    more = len(records) > RECORD_PAGE
    records = records[:RECORD_PAGE]
    return {
        "status_code": status_for(refusal) if refusal else 200,
        "project": project,
        "active": "dataset",
        "records": records,
        "filters": values,
        "filter_error": str(refusal) if refusal else None,
        "cursor": cursor,
        "next_cursor": records[-1].id if more else None,
        "base_query": _query(**values),
        # The judge form's choice of model (blank: the project's answer model).
        "judge_models": [endpoint.alias for endpoint in list_endpoints(session)],
    }


def dataset_filter(session: Session, project: Project, values: dict[str, str]) -> RecordFilter:
    """The dataset page's filter fields (as typed) as a record filter."""
    flt = record_filter(
        session,
        project,
        tag_id=tag_id_of(session, project, values.get("tag")),
        confirmed=YES_NO.get(values.get("confirmed") or ""),
        min_score=optional_number("min score", values.get("min_score") or "", float),
        search=values.get("q") or None,
        min_difficulty=optional_number("min difficulty", values.get("min_difficulty") or "", int),
    )
    label = (values.get("label") or "").strip()
    return replace(flt, label=label) if label else flt


@router.get("/dataset")
def dataset_page(
    project_id: RowId,
    request: Request,
    session: DbSession,
    tag: str | None = Query(default=None, max_length=5000),
    confirmed: str = Query(default="", pattern="^(yes|no|)$"),
    min_score: str = Query(default="", max_length=20),
    q: str | None = Query(default=None, max_length=500),
    label: str | None = Query(default=None, max_length=200),
    min_difficulty: str = Query(default="", max_length=10),
    cursor: AfterId | None = None,
) -> Response:
    project = project_by_id(session, project_id)
    values = {
        "tag": tag or "",
        "confirmed": confirmed,
        "min_score": min_score,
        "q": q or "",
        "label": label or "",
        "min_difficulty": min_difficulty,
    }
    return render(request, "dataset.html", **dataset_context(session, project, values, cursor))


@router.post("/dataset/{record_id}")
async def update_record(
    project_id: RowId, record_id: RowId, request: Request, store: AppStore
) -> Response:
    form = await request.form()
    # Labels are typed as one comma-separated field; the API takes the full list.
    fields = FormData([(key, value) for key, value in form.multi_items() if key != "labels"])
    body = parse_form(RecordUpdate, fields, keep_empty=frozenset({"note", "reasoning"}))
    extra: dict[str, Any] = {}
    if form.get("score") == "":
        extra["score"] = None
    labels = form.get("labels")
    if isinstance(labels, str):
        extra["labels"] = [label.strip() for label in labels.split(",") if label.strip()]
    if extra:
        body = RecordUpdate.model_validate({**body.model_dump(exclude_unset=True), **extra})
    with store.session() as session:
        project = project_by_id(session, project_id)
        apply_record_update(session, project, record_id, body)
    with store.session() as session:
        project = project_by_id(session, project_id)
        record = review_service.get_record(session, project, record_id)
        return render(request, "_record.html", project=project, record=record)


@router.post("/dataset/{record_id}/refine")
async def refine_record(
    project_id: RowId,
    record_id: RowId,
    request: Request,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
    advice: Annotated[str, Form(max_length=5_000)] = "",
    max_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Refine the record with the advice and wait: the record as it is now, saying why
    when the refine failed (its text is then unchanged)."""
    budget = form_budget(max_cost)
    outcome = await refine_one(runner, settings, project_id, record_id, advice, None, budget)
    task = outcome["task"]
    failed = task["status"] != "succeeded"
    notice = (
        f"Refine failed: {task.get('last_error') or task['status']}. The text is unchanged."
        if failed
        else "Refined. The earlier text is in the history."
    )
    with store.session() as session:
        project = project_by_id(session, project_id)
        record = review_service.get_record(session, project, record_id)
        return render(
            request,
            "_record.html",
            project=project,
            record=record,
            notice=notice,
            notice_level="error" if failed else "info",
        )


@router.get("/dataset/{record_id}/history")
def record_history(
    project_id: RowId, record_id: RowId, request: Request, session: DbSession
) -> Response:
    project = project_by_id(session, project_id)
    versions = review_service.record_history(session, project, record_id)
    return render(
        request, "_record_history.html", project=project, record_id=record_id, versions=versions
    )


@router.post("/dataset/{record_id}/restore")
def restore_record(
    project_id: RowId,
    record_id: RowId,
    request: Request,
    session: DbSession,
    version: Annotated[int, Form(ge=1, le=MAX_ID)],
) -> Response:
    project = project_by_id(session, project_id)
    record = review_service.restore_version(session, project, record_id, version)
    return render(
        request,
        "_record.html",
        project=project,
        record=record,
        notice=f"Version {version} restored; the text it replaced is the newest version now.",
    )


@router.post("/dataset/{record_id}/delete")
def delete_record(
    project_id: RowId, record_id: RowId, request: Request, session: DbSession
) -> Response:
    project = project_by_id(session, project_id)
    review_service.delete_records(session, project, ids=[record_id])
    return message(request, f"Record #{record_id} deleted.")
