"""Refining records from a page or an API call: the CLI's refine task, run by the server's
runner (progress, cancel and resume as any task); one record's refine is awaited."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from distillset.answers import create_refine_task
from distillset.config import Settings
from distillset.kinds import task_as_dict
from distillset.review import RecordFilter, chosen_filter, get_record
from distillset.runs import get_task
from distillset.web.api._jobs import in_session
from distillset.web.api._record_filters import record_filter
from distillset.web.deps import project_by_id
from distillset.web.runner import TaskRunner
from distillset.web.schemas import RecordRefine


def create_refine(
    session: Session, settings: Settings, project_id: int, body: RecordRefine
) -> dict[str, Any]:
    """The queued task over the chosen records (the caller starts it)."""
    project = project_by_id(session, project_id)
    flt = record_filter(
        session,
        project,
        tag_id=body.tag_id,
        confirmed=body.confirmed,
        scored=body.scored,
        min_score=body.min_score,
        max_score=body.max_score,
        search=body.q,
    )
    task = create_refine_task(
        session,
        project,
        advice=body.advice,
        record_filter=chosen_filter(body.ids, flt, body.all),
        model=body.model,
        everything=body.all,
        max_cost=body.max_cost,
    )
    return task_as_dict(task, settings)


def _create_one(
    session: Session,
    project_id: int,
    record_id: int,
    advice: str,
    model: str | None,
    max_cost: float | None,
) -> int:
    project = project_by_id(session, project_id)
    get_record(session, project, record_id)  # 404 before anything is sent
    task = create_refine_task(
        session,
        project,
        advice=advice,
        record_filter=RecordFilter(ids=(record_id,)),
        model=model,
        max_cost=max_cost,
    )
    return task.id


def _outcome(
    session: Session, settings: Settings, project_id: int, record_id: int, task_id: int
) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    return {
        "record": get_record(session, project, record_id).as_dict(),
        "task": task_as_dict(get_task(session, task_id), settings),
    }


async def refine_one(
    runner: TaskRunner,
    settings: Settings,
    project_id: int,
    record_id: int,
    advice: str,
    model: str | None = None,
    max_cost: float | None = None,
) -> dict[str, Any]:
    """Refine one record and wait for it: the record as it is now, with the task (whose
    ``last_error`` says why when the refine failed and the record kept its text);
    ``max_cost`` is the task's budget."""
    task_id = await in_session(
        runner.store, _create_one, project_id, record_id, advice, model, max_cost
    )
    await runner.run_to_end(task_id)
    return await in_session(runner.store, _outcome, settings, project_id, record_id, task_id)
