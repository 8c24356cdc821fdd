"""Tasks from Python: list, show, cancel and resume, as `distillset tasks ...` does.

Task ids are global (one numbering for every project), so these are functions; `Project`
has the same calls bound to its store and settings.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from distillset import projects, resolve
from distillset.api._common import ProgressCallback, ProjectBase, opened, run_blocking
from distillset.config import Settings
from distillset.domain import TaskStatus
from distillset.kinds import new_worker, run_task, task_as_dict
from distillset.runs import (
    ask_fresh,
    get_task,
    recent_events,
    refresh_status,
    request_cancel,
    set_budget,
)
from distillset.runs import list_tasks as _list_tasks
from distillset.store import Project as ProjectRow
from distillset.store import Store, utc_iso


def _project_name(session: Session, project_id: int) -> str | None:
    project = session.get(ProjectRow, project_id)
    return project.name if project else None


def _tasks(session: Session, settings: Settings, project: str | None, limit: int) -> list[Any]:
    project_id = resolve.project_named(session, project).id if project else None
    names = {row.id: row.name for row in session.query(ProjectRow)}
    return [
        task_as_dict(task, settings, names.get(task.project_id))
        for task in _list_tasks(session, settings, project_id, limit)
    ]


def list_tasks(
    project: str | None = None,
    *,
    limit: int = 50,
    settings: Settings | None = None,
    store: Store | None = None,
) -> list[dict[str, Any]]:
    """Tasks, newest first (only ``project``'s when given), as `tasks list --json`; a running
    task whose process died shows as interrupted."""
    with opened(settings, store) as (settings, store), store.session() as session:
        return _tasks(session, settings, project, limit)


def show_task(
    task_id: int, *, settings: Settings | None = None, store: Store | None = None
) -> dict[str, Any]:
    """A task's status, counters, parameters and recent ``events``, as `tasks show --json`."""
    with opened(settings, store) as (settings, store), store.session() as session:
        task = refresh_status(session, get_task(session, task_id), settings)
        data = task_as_dict(task, settings, _project_name(session, task.project_id))
        data["events"] = [
            {"at": utc_iso(event.created_at), "level": event.level, "message": event.message}
            for event in recent_events(session, task_id)
        ]
        return data


def cancel_task(
    task_id: int, *, settings: Settings | None = None, store: Store | None = None
) -> dict[str, Any]:
    """Stop a task: the process running it ends it as cancelled within a second. Returns its
    ``id``, ``status`` and ``cancel_requested``."""
    with opened(settings, store) as (settings, store):
        with store.session() as session:
            task = request_cancel(session, get_task(session, task_id), settings)
            data = {"id": task_id, "status": task.status, "cancel_requested": task.cancel_requested}
        if data["status"] == TaskStatus.CANCELLED:
            # No process runs it: its batches at the provider are cancelled from here.
            problems = run_blocking(projects.cancel_remote_batches(store, settings, task_id))
            if problems:
                data["batch_problems"] = problems
        return data


async def resume_task_async(
    task_id: int,
    *,
    no_cache: bool = False,
    max_cost: float | None = None,
    on_progress: ProgressCallback | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
) -> dict[str, Any]:
    """``resume_task`` as a coroutine, for a caller that has a running loop of its own."""
    with opened(settings, store) as (settings, store):
        with store.session() as session:
            task = get_task(session, task_id)
            if no_cache:
                ask_fresh(task)
            set_budget(task, max_cost)
        return await run_task(store, settings, task_id, on_progress=on_progress)


def resume_task(
    task_id: int,
    *,
    no_cache: bool = False,
    max_cost: float | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
) -> dict[str, Any]:
    """Continue a stopped task from what is stored; replies already received are not paid
    twice (unless the task was started or is resumed with ``no_cache``). A task paused at
    its budget goes on with a higher ``max_cost``. Returns the task's summary."""
    return run_blocking(
        resume_task_async(
            task_id, no_cache=no_cache, max_cost=max_cost, settings=settings, store=store
        )
    )


class TaskMethods(ProjectBase):
    def tasks(self, limit: int = 50) -> list[dict[str, Any]]:
        """This project's tasks, newest first."""
        return list_tasks(self.name, limit=limit, settings=self.settings, store=self.store)

    def task(self, task_id: int) -> dict[str, Any]:
        """One task in full, with its recent events (see `show_task`)."""
        return show_task(task_id, settings=self.settings, store=self.store)

    def cancel(self, task_id: int) -> dict[str, Any]:
        """Stop a task (see `cancel_task`)."""
        return cancel_task(task_id, settings=self.settings, store=self.store)

    def resume(
        self,
        task_id: int,
        *,
        no_cache: bool = False,
        max_cost: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Continue a stopped task from what is stored (see `resume_task`)."""
        return run_blocking(
            resume_task_async(
                task_id, no_cache=no_cache, max_cost=max_cost, on_progress=on_progress,
                settings=self.settings, store=self.store,
            )
        )  # fmt: skip


def run_worker(
    projects: list[str] | None = None,
    *,
    once: bool = True,
    poll_seconds: float = 1.0,
    settings: Settings | None = None,
    store: Store | None = None,
) -> dict[str, int]:
    """Run the tasks queued for workers (of ``projects``, default all) and share running
    jobs, as `distillset worker` does; ``once``: until nothing is left (else until
    interrupted). Returns how many tasks it ran (``tasks_run``) and jobs it joined."""
    with opened(settings, store) as (settings, store):
        with store.session() as session:
            ids = [resolve.project_named(session, name).id for name in projects or []]
        worker = new_worker(store, settings, project_ids=ids or None)
        run_blocking(worker.run(once=once, poll_seconds=poll_seconds))
        return {"tasks_run": worker.tasks_run, "jobs_joined": worker.jobs_joined}
