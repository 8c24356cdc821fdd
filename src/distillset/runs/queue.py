"""Tasks queued for workers: `--queue` (and a web app started with --queue) creates a task
and leaves it to `distillset worker`.

A worker claims such a task atomically: it locks the row (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so workers never wait on one another's pick) and claims it with the usual
compare-and-set in the same transaction. When the process running it dies, its heartbeat goes
stale and any worker resumes it, without a user. Tasks started without --queue are left to
their user (`tasks resume`), as before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.domain import TaskStatus
from distillset.runs.rows import is_stale
from distillset.store import Task, utcnow

# A task param: the task is run by workers, not by the process that created it.
WORKER_PARAM = "for_workers"


def for_workers(params: dict[str, Any] | None) -> bool:
    return bool((params or {}).get(WORKER_PARAM, False))


def enqueue(task: Task) -> None:
    """Leave the task to the workers (a new dict: the JSON column only notices assignment)."""
    task.params = {**(task.params or {}), WORKER_PARAM: True}


def requeue(task: Task) -> None:
    """Leave a task to the workers, to run or resume: a task that stopped (interrupted,
    failed, cancelled, paused) waits for one again; a running one keeps its run."""
    enqueue(task)
    if task.status != TaskStatus.RUNNING.value:
        task.status = TaskStatus.QUEUED.value
        task.cancel_requested = False


def waiting_tasks(
    session: Session, settings: Settings, project_ids: list[int] | None, skip: set[int]
) -> list[int]:
    """Ids of the tasks for workers that wait for one, oldest first: queued, or interrupted,
    or running in a process that died (its heartbeat is stale, or it was on this host and
    is gone)."""
    query = (
        select(Task)
        .where(
            Task.status.in_(
                [TaskStatus.QUEUED.value, TaskStatus.INTERRUPTED.value, TaskStatus.RUNNING.value]
            )
        )
        .order_by(Task.id)
    )
    if project_ids is not None:
        query = query.where(Task.project_id.in_(project_ids))
    return [
        task.id
        for task in session.scalars(query)
        if task.id not in skip
        and for_workers(task.params)
        and (task.status != TaskStatus.RUNNING.value or is_stale(task, settings))
    ]


def lock_task(session: Session, task_id: int) -> Task | None:
    """The task's row, locked for this transaction; None when another worker holds the lock
    (it is claiming it) or the row is gone. SQLite has no row locks: its writers queue and
    the claim's compare-and-set decides."""
    return session.scalars(
        select(Task).where(Task.id == task_id).with_for_update(skip_locked=True)
    ).first()


def end_failed(session: Session, task_id: int, owner: str, error: str) -> None:
    """A worker's run that stopped on an error it could not record (its planning failed
    after the claim): the task ends failed with it, rather than being resumed forever."""
    session.execute(
        update(Task)
        .where(Task.id == task_id, Task.owner == owner, Task.status == TaskStatus.RUNNING.value)
        .values(status=TaskStatus.FAILED.value, last_error=error[:2000], finished_at=utcnow())
    )
