"""Tasks: start auto distill / answer-all jobs, list, cancel, resume, live progress (SSE)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from distillset import projects
from distillset.domain import TaskStatus
from distillset.kinds import task_as_dict
from distillset.runs import get_task, list_tasks
from distillset.web.api import _jobs as jobs
from distillset.web.deps import AppSettings, AppStore, DbSession, Runner, project_by_id
from distillset.web.schemas import (
    AnswerTask,
    AutoDistill,
    DifficultyRating,
    RowId,
    SampleSelection,
    TaskResume,
)
from distillset.web.streaming.progress import task_events

router = APIRouter(tags=["tasks"])


@router.post("/projects/{project_id}/auto/plan")
def plan_auto_distill(
    project_id: RowId, body: AutoDistill, session: DbSession, settings: AppSettings
) -> dict[str, Any]:
    """What an auto distill would create (tags, questions, answers, calls, cost); starts nothing."""
    return jobs.auto_plan(session, settings, project_id, body).as_dict()


# Starting endpoints are async: the run is a task on the server's own event loop.


@router.post("/projects/{project_id}/tasks/auto", status_code=202)
async def start_auto_distill(
    project_id: RowId, body: AutoDistill, store: AppStore, settings: AppSettings, runner: Runner
) -> dict[str, Any]:
    """Create an auto-distill task and run it in the server; follow it with /tasks/{id}/events."""
    job = await jobs.in_session(store, jobs.create_auto, settings, project_id, body)
    runner.start(job.task_id, use_cache=not body.fresh)
    return job.as_dict()


@router.post("/projects/{project_id}/tasks/answers", status_code=202)
async def start_answer_all(
    project_id: RowId, body: AnswerTask, store: AppStore, settings: AppSettings, runner: Runner
) -> dict[str, Any]:
    """Answer every unanswered question (of a tag's subtree when tag_id is given) as a task."""
    job = await jobs.in_session(
        store,
        jobs.create_answers,
        settings,
        project_id,
        body.tag_id,
        body,
    )
    runner.start(job.task_id, use_cache=not body.fresh)
    return job.as_dict()


@router.post("/projects/{project_id}/selection")
async def select_samples(
    project_id: RowId,
    body: SampleSelection,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
    response: Response,
) -> dict[str, Any]:
    """Choose one sample of each question that has several: a vote answers at once (200,
    what was chosen); a judge selection starts a task (202) that scores, then chooses."""
    started = await jobs.in_session(store, jobs.start_selection, project_id, body)
    if isinstance(started, dict):
        return started
    runner.start(started, use_cache=not body.fresh)
    response.status_code = 202
    return await jobs.in_session(
        store, lambda session: task_as_dict(get_task(session, started), settings)
    )


@router.post("/projects/{project_id}/tasks/rate", status_code=202)
async def start_difficulty_rating(
    project_id: RowId,
    body: DifficultyRating,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
) -> dict[str, Any]:
    """Rate the unrated questions' difficulty (of a tag's subtree; every one with `rerate`)
    with the judge model as a task (as `dataset rate --difficulty`)."""
    task_id = await jobs.in_session(store, jobs.create_rate, project_id, body)
    runner.start(task_id, use_cache=not body.fresh)
    return await jobs.in_session(
        store, lambda session: task_as_dict(get_task(session, task_id), settings)
    )


@router.get("/projects/{project_id}/tasks")
def project_tasks(
    project_id: RowId, session: DbSession, settings: AppSettings
) -> list[dict[str, Any]]:
    project = project_by_id(session, project_id)
    return [task_as_dict(t, settings) for t in list_tasks(session, settings, project.id, 200)]


@router.get("/tasks/{task_id}")
def get_one_task(task_id: RowId, session: DbSession, settings: AppSettings) -> dict[str, Any]:
    return task_as_dict(get_task(session, task_id), settings)


@router.post("/tasks/{task_id}/cancel")
async def cancel_task(
    task_id: RowId, store: AppStore, settings: AppSettings, runner: Runner
) -> dict[str, Any]:
    data = await jobs.in_session(store, jobs.cancel, settings, task_id)
    runner.cancel(task_id)
    # No process runs it: its batches at the provider are cancelled from here.
    if data["status"] == TaskStatus.CANCELLED.value and (
        problems := await projects.cancel_remote_batches(store, settings, task_id)
    ):
        data["batch_problems"] = problems
    return data


@router.post("/tasks/{task_id}/resume", status_code=202)
async def resume_task(
    task_id: RowId,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
    body: TaskResume | None = None,
) -> dict[str, Any]:
    """Run an interrupted (or failed, cancelled, or paused) task again: only what is missing
    is done. A task paused at its budget goes on with a higher ``max_cost``."""
    max_cost = body.max_cost if body is not None else None
    data = await jobs.in_session(store, jobs.check_startable, settings, task_id, max_cost)
    runner.start(task_id)
    # (A server started with --queue leaves it to the workers.)
    data["status"] = (TaskStatus.QUEUED if settings.queue_tasks else TaskStatus.RUNNING).value
    return data


@router.get("/tasks/{task_id}/events")
def task_progress_stream(
    task_id: RowId, session: DbSession, store: AppStore, settings: AppSettings, runner: Runner
) -> StreamingResponse:
    """Server-sent events: `progress` (the task with its new events) until one `end`."""
    get_task(session, task_id)
    return StreamingResponse(
        task_events(store, settings, task_id, is_running=runner.is_running),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
