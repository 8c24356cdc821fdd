"""Pages: the auto-distill dialog's plan and its Start (the plan follows the form's fields)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from distillset.store import Store
from distillset.web.api import _jobs as jobs
from distillset.web.deps import AppSettings, AppStore, Runner, project_by_id
from distillset.web.pages.common import redirect, render
from distillset.web.pages.forms import parse_form
from distillset.web.schemas import AutoDistill, RowId

router = APIRouter(prefix="/projects/{project_id}")


def _plan_key(body: AutoDistill) -> str:
    """The fields a plan was drawn for, as the plan's Start form carries them back."""
    key = f"{body.topic or ''}|{body.levels}|{body.tags_per_level}|{body.questions_per_tag}"
    # The dataset type and sampling change the plan too (their defaults add nothing).
    if body.dataset_type != "single":
        key += f"|{body.dataset_type}"
    if body.samples != 1 or body.temperature is not None:
        key += f"|{body.samples}|{body.temperature}"
    if body.batch_answers:  # priced with the batch discount
        key += "|batch"
    return key


async def _render_plan(
    request: Request,
    store: Store,
    settings: AppSettings,
    project_id: int,
    body: AutoDistill,
    notice: str | None = None,
) -> Response:
    plan = await jobs.in_session(store, jobs.auto_plan, settings, project_id, body)
    with store.session() as session:
        project = project_by_id(session, project_id)
    return render(
        request,
        "_auto_plan.html",
        project=project,
        plan=plan,
        body=body,
        planned=_plan_key(body),
        notice=notice,
    )


@router.post("/distill/auto/plan")
async def auto_plan(
    project_id: RowId, request: Request, store: AppStore, settings: AppSettings
) -> Response:
    body = parse_form(AutoDistill, await request.form())
    return await _render_plan(request, store, settings, project_id, body)


@router.post("/distill/auto/start")
async def auto_start(
    project_id: RowId, request: Request, store: AppStore, settings: AppSettings, runner: Runner
) -> Response:
    """Runs the fields as the form shows them now. A large plan's confirmation counts only
    for the numbers it was given to: after a change, the new plan is shown to confirm."""
    form = await request.form()
    body = parse_form(AutoDistill, form)
    planned = form.get("planned")
    if body.confirm_large and planned is not None and planned != _plan_key(body):
        notice = "The fields changed after this plan was shown: check the new numbers."
        return await _render_plan(request, store, settings, project_id, body, notice)
    job = await jobs.in_session(store, jobs.create_auto, settings, project_id, body)
    runner.start(job.task_id, use_cache=not body.fresh)
    return redirect(request, f"/projects/{project_id}/tasks/{job.task_id}")
