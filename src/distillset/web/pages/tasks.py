"""Pages: the task list (its rows polled) and one task's live progress view; cancel and
resume."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.domain import NotFoundError
from distillset.kinds import task_as_dict
from distillset.runs import get_task, list_tasks
from distillset.web.api import _jobs as jobs
from distillset.web.deps import AppSettings, AppStore, DbSession, Runner, project_by_id
from distillset.web.pages.common import message, redirect, render
from distillset.web.schemas import RowId, form_budget

router = APIRouter(prefix="/projects/{project_id}")


def project_task(
    session: Session, settings: Settings, project_id: int, task_id: int
) -> dict[str, Any]:
    task = get_task(session, task_id)
    if task.project_id != project_id:
        raise NotFoundError(f"no task {task_id} in this project")
    return task_as_dict(task, settings)


# The task list polls its rows this often (a task's own page follows it by SSE).
ROWS_POLL_SECONDS = 3
LISTED_TASKS = 200


def _listed_tasks(session: Session, settings: Settings, project_id: int) -> list[dict[str, Any]]:
    tasks = list_tasks(session, settings, project_id, LISTED_TASKS)
    return [task_as_dict(task, settings) for task in tasks]


@router.get("/tasks")
def tasks_page(
    project_id: RowId, request: Request, session: DbSession, settings: AppSettings
) -> Response:
    project = project_by_id(session, project_id)
    return render(
        request,
        "tasks.html",
        project=project,
        active="tasks",
        tasks=_listed_tasks(session, settings, project.id),
        poll_seconds=ROWS_POLL_SECONDS,
    )


@router.get("/tasks/rows")
def task_rows(
    project_id: RowId, request: Request, session: DbSession, settings: AppSettings
) -> Response:
    """The list's rows alone: the page swaps them in every few seconds."""
    project = project_by_id(session, project_id)
    return render(
        request,
        "_task_rows.html",
        project=project,
        tasks=_listed_tasks(session, settings, project.id),
        poll_seconds=ROWS_POLL_SECONDS,
    )


@router.get("/tasks/{task_id}")
def task_page(
    project_id: RowId, task_id: RowId, request: Request, session: DbSession, settings: AppSettings
) -> Response:
    project = project_by_id(session, project_id)
    task = project_task(session, settings, project.id, task_id)
    return render(request, "task.html", project=project, active="tasks", task=task)


@router.post("/tasks/{task_id}/cancel")
async def cancel_task(
    project_id: RowId,
    task_id: RowId,
    request: Request,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
) -> Response:
    await jobs.in_session(store, project_task, settings, project_id, task_id)
    await jobs.in_session(store, jobs.cancel, settings, task_id)
    runner.cancel(task_id)
    return message(request, f"Task {task_id}: cancel requested.")


@router.post("/tasks/{task_id}/resume")
async def resume_task(
    project_id: RowId,
    task_id: RowId,
    request: Request,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
    max_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Run the task again from what is stored; a paused one with a higher budget."""
    budget = form_budget(max_cost)
    await jobs.in_session(store, project_task, settings, project_id, task_id)
    await jobs.in_session(store, jobs.check_startable, settings, task_id, budget)
    runner.start(task_id)
    return redirect(request, f"/projects/{project_id}/tasks/{task_id}")
