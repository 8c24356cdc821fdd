"""Jobs started from the web: plan before start, create the task row, run it in the server.

Planning and task creation are the distill package's; this module only names the project by
id and hands the created task to the server's runner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.distill.context import load_context
from distillset.distill.jobs import PlannedJob, create_answers_job, create_auto_job
from distillset.distill.plan import Plan, auto_spec, estimate_cost, plan_job
from distillset.domain import ConflictError, TaskStatus
from distillset.kinds import task_as_dict
from distillset.services.tags import tag_path
from distillset.store import Store, Task
from distillset.tasks import effective_status, get_task, request_cancel
from distillset.tasks.service import is_stale, process_owner
from distillset.web.lookup import project_by_id, tag_in_project
from distillset.web.schemas import AutoDistill

ResultT = TypeVar("ResultT")


def _prices(endpoint: Any) -> tuple[float | None, float | None] | None:
    return None if endpoint is None else (endpoint.price_input_per_m, endpoint.price_output_per_m)


def auto_plan(session: Session, settings: Settings, project_id: int, body: AutoDistill) -> Plan:
    """What an auto distill would create given what exists, with calls and estimated cost."""
    project = project_by_id(session, project_id)
    spec = auto_spec(
        levels=body.levels,
        tags=body.tags_per_level,
        questions=body.questions_per_tag,
        topic=body.topic,
    )
    plan, _ready = plan_job(session, project.id, spec)
    context = load_context(session, project, settings)
    plan.estimated_cost = estimate_cost(
        plan, _prices(context.question_endpoint), _prices(context.answer_endpoint)
    )
    return plan


def other_process_task(session: Session, settings: Settings, project_id: int) -> Task | None:
    """A task that a living process other than this server runs on the project."""
    this_process = process_owner()
    running = session.scalars(
        select(Task)
        .where(Task.project_id == project_id, Task.status == TaskStatus.RUNNING.value)
        .order_by(Task.id)
    )
    for task in running:
        owner = task.owner or ""
        mine = owner == this_process or owner.startswith(this_process + ":")
        if not mine and not is_stale(task, settings):
            return task
    return None


def refuse_if_other_process_busy(session: Session, settings: Settings, project_id: int) -> None:
    """Generation awaited in a request follows the rule of task claims: a task running in
    another process shares neither this server's limiter nor its calls on their way, so
    both at once would exceed the project's concurrency and pay twice for answers."""
    busy = other_process_task(session, settings, project_id)
    if busy is not None:
        raise ConflictError(
            f"task {busy.id} ({busy.kind}) is running on this project in another process; "
            "wait for it or cancel it"
        )


def create_auto(
    session: Session, settings: Settings, project_id: int, body: AutoDistill
) -> PlannedJob:
    project = project_by_id(session, project_id)
    return create_auto_job(
        session,
        settings,
        project.name,
        levels=body.levels,
        tags=body.tags_per_level,
        questions=body.questions_per_tag,
        topic=body.topic,
        confirm_large=body.confirm_large,
    )


def create_answers(
    session: Session,
    settings: Settings,
    project_id: int,
    tag_id: int | None,
    confirm_large: bool = False,
) -> PlannedJob:
    """Answer every unanswered question of the project, or of a tag's subtree."""
    project = project_by_id(session, project_id)
    path = None
    if tag_id is not None:
        path = str(tag_path(session, tag_in_project(session, project, tag_id)))
    return create_answers_job(
        session, settings, project.name, tag=path, confirm_large=confirm_large
    )


def check_startable(session: Session, settings: Settings, task_id: int) -> dict[str, Any]:
    """Refuse at once (409) what the run would refuse in the background."""
    task = get_task(session, task_id)
    status = effective_status(task, settings)
    if status is TaskStatus.RUNNING:
        raise ConflictError(f"task {task_id} is already running")
    if status is TaskStatus.SUCCEEDED:
        raise ConflictError(f"task {task_id} has already succeeded; nothing to resume")
    return task_as_dict(task, settings)


def cancel(session: Session, settings: Settings, task_id: int) -> dict[str, Any]:
    return task_as_dict(request_cancel(session, get_task(session, task_id), settings), settings)


async def in_session(store: Store, work: Callable[..., ResultT], *args: Any) -> ResultT:
    """Run ``work(session, *args)`` in one committed session, off the event loop."""

    def call() -> ResultT:
        with store.session() as session:
            return work(session, *args)

    return await asyncio.to_thread(call)
