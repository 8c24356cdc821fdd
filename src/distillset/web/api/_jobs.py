"""Jobs started from the web: plan before start, create the task row, run it in the server.

Planning, refusing and task creation are the distill package's (one plan, one price, one
busy check); this module passes the ids of the URL and the form's fields to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from distillset import review
from distillset.auto import Plan, PlannedJob, create_answers_job, create_auto_job, preview_auto_job
from distillset.config import Settings
from distillset.domain import ConflictError, TaskStatus
from distillset.kinds import task_as_dict
from distillset.runs import effective_status, get_task, request_cancel, set_budget
from distillset.store import Store
from distillset.web.api._batch import check_batch
from distillset.web.deps import project_by_id
from distillset.web.schemas import AnswerTask, AutoDistill, DifficultyRating, SampleSelection

ResultT = TypeVar("ResultT")


def auto_plan(session: Session, settings: Settings, project_id: int, body: AutoDistill) -> Plan:
    """What an auto distill would create given what exists, with calls and estimated cost;
    the core refuses here what it would refuse on start."""
    if body.batch_answers:
        check_batch(project_by_id(session, project_id))
    return preview_auto_job(
        session,
        settings,
        project_id,
        levels=body.levels,
        tags=body.tags_per_level,
        questions=body.questions_per_tag,
        topic=body.topic,
        dataset_type=body.dataset_type,
        samples=body.samples,
        temperature=body.temperature,
        batch_answers=body.batch_answers,
    )


def create_auto(
    session: Session, settings: Settings, project_id: int, body: AutoDistill
) -> PlannedJob:
    if body.batch_answers:
        check_batch(project_by_id(session, project_id))
    return create_auto_job(
        session,
        settings,
        project_id,
        levels=body.levels,
        tags=body.tags_per_level,
        questions=body.questions_per_tag,
        topic=body.topic,
        confirm_large=body.confirm_large,
        dataset_type=body.dataset_type,
        batch_answers=body.batch_answers,
        samples=body.samples,
        temperature=body.temperature,
        max_cost=body.max_cost,
    )


def create_answers(
    session: Session,
    settings: Settings,
    project_id: int,
    tag_id: int | None,
    body: AnswerTask,
) -> PlannedJob:
    """Answer every unanswered question of the project, or of a tag's subtree, with the
    body's options (``batch``: through the answer model's batch interface, refused for an
    endpoint not set up for it; with ``samples``, give each question the samples it lacks;
    ``max_cost``: the task's budget)."""
    if body.batch:
        check_batch(project_by_id(session, project_id))
    return create_answers_job(
        session,
        settings,
        project_id,
        tag_id=tag_id,
        confirm_large=body.confirm_large,
        batch=body.batch,
        samples=body.samples,
        temperature=body.temperature,
        max_cost=body.max_cost,
    )


def start_selection(
    session: Session, project_id: int, body: SampleSelection
) -> dict[str, Any] | int:
    """A vote's outcome, or the id of the judge task that selects (to run in the server)."""
    project = project_by_id(session, project_id)
    started = review.start_selection(
        session,
        project,
        review.select_by(body.by),
        tag_id=body.tag_id,
        model=body.model,
        max_cost=body.max_cost,
    )
    if isinstance(started, review.SelectionResult):
        return started.as_dict()
    return started.id


def create_rate(session: Session, project_id: int, body: DifficultyRating) -> int:
    """The id of a queued difficulty-rating task (the caller starts it)."""
    project = project_by_id(session, project_id)
    task = review.create_rate_task(
        session,
        project,
        model=body.model,
        tag_id=body.tag_id,
        rerate=body.rerate,
        no_cache=body.fresh,
        max_cost=body.max_cost,
    )
    return task.id


def check_startable(
    session: Session, settings: Settings, task_id: int, max_cost: float | None = None
) -> dict[str, Any]:
    """Refuse at once (409) what the run would refuse in the background; then give the task
    its new budget, if any (as `tasks resume --max-cost`)."""
    task = get_task(session, task_id)
    status = effective_status(task, settings)
    if status is TaskStatus.RUNNING:
        raise ConflictError(f"task {task_id} is already running")
    if status is TaskStatus.SUCCEEDED:
        raise ConflictError(f"task {task_id} has already succeeded; nothing to resume")
    set_budget(task, max_cost)
    return task_as_dict(task, settings)


def cancel(session: Session, settings: Settings, task_id: int) -> dict[str, Any]:
    return task_as_dict(request_cancel(session, get_task(session, task_id), settings), settings)


async def in_session(store: Store, work: Callable[..., ResultT], *args: Any) -> ResultT:
    """Run ``work(session, *args)`` in one committed session, off the event loop."""

    def call() -> ResultT:
        with store.session() as session:
            return work(session, *args)

    return await asyncio.to_thread(call)
