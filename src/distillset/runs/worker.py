"""`distillset worker`: run the tasks queued for workers, resume those whose process died,
and (PostgreSQL) join the running jobs that other workers share.

A worker does one thing at a time, in this order: claim a task that waits for a worker (a
new one, or one whose runner died: its heartbeat went stale), else join a running shared job
that has items left to claim, else wait and look again. Several workers are several
processes, on one machine or many (the database is what they share).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import exists, or_, select

from distillset.config import Settings
from distillset.domain import ConflictError, DistillsetError, TaskStatus
from distillset.runs.kinds import KindRegistry
from distillset.runs.queue import end_failed, for_workers, lock_task, waiting_tasks
from distillset.runs.rows import claim_task, is_stale
from distillset.runs.runner import SupervisedRun
from distillset.runs.shared import can_share
from distillset.store import Store, Task, WorkItem, utcnow

# How long a task refused because its project is busy is left alone before the next try.
BUSY_RETRY_SECONDS = 5.0


class Worker:
    """Runs queued tasks of the projects ``project_ids`` (None: of every project)."""

    def __init__(
        self,
        kinds: KindRegistry,
        store: Store,
        settings: Settings,
        *,
        project_ids: list[int] | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.kinds, self.store, self.settings = kinds, store, settings
        self.project_ids = project_ids
        self.say = say or (lambda _message: None)
        # Tasks that could not run now (their project was busy), and when to try again.
        self._busy_until: dict[int, float] = {}
        self.tasks_run = 0
        self.jobs_joined = 0

    async def run(self, *, once: bool = False, poll_seconds: float = 1.0) -> None:
        """Work until cancelled; ``once``: until nothing is left to claim or join."""
        while True:
            worked = await self.step()
            if once and not worked and not self._busy_until:
                return
            if not worked:
                await asyncio.sleep(poll_seconds)

    async def step(self) -> bool:
        """Claim and run one waiting task, or join one shared job; False when there was
        nothing to do."""
        run = self._claim_next()
        if run is not None:
            await self._run(run)
            return True
        task_id = self._joinable() if can_share(self.store) else None
        if task_id is not None:
            await self._join(task_id)
            return True
        return False

    def _claim_next(self) -> SupervisedRun | None:
        now = time.monotonic()
        self._busy_until = {t: until for t, until in self._busy_until.items() if until > now}
        with self.store.session() as session:
            candidates = waiting_tasks(
                session, self.settings, self.project_ids, set(self._busy_until)
            )
        for task_id in candidates:
            try:
                run = self._claim(task_id)
            except ConflictError as exc:
                self._busy_until[task_id] = now + BUSY_RETRY_SECONDS
                self.say(f"task {task_id} waits: {exc}")
                continue
            except DistillsetError as exc:  # a kind this worker does not run, a task gone
                self._busy_until[task_id] = float("inf")
                self.say(f"task {task_id} left alone: {exc}")
                continue
            if run is not None:
                return run
        return None

    def _claim(self, task_id: int) -> SupervisedRun | None:
        """Lock the task's row and claim it for a new run, in one transaction; None when
        another worker is claiming it or has claimed it."""
        with self.store.session() as session:
            task = lock_task(session, task_id)
            if task is None or not self._still_waiting(task):
                return None
            run = self.kinds.get(task.kind).run(self.store, self.settings, task_id)
            claim_task(session, task_id, self.settings, run.owner)
            self.say(f"task {task_id} ({task.kind}, project {task.project_id}): claimed")
        return run

    def _still_waiting(self, task: Task) -> bool:
        if task.status in (TaskStatus.QUEUED.value, TaskStatus.INTERRUPTED.value):
            return True
        return task.status == TaskStatus.RUNNING.value and is_stale(task, self.settings)

    async def _run(self, run: SupervisedRun) -> None:
        self.tasks_run += 1
        try:
            summary = await run.run()
        except ConflictError as exc:
            self.say(f"task {run.task_id}: {exc}")
        except Exception as exc:  # the run recorded it; a worker goes on with the next task
            with self.store.session() as session:
                end_failed(session, run.task_id, run.owner, f"{type(exc).__name__}: {exc}")
            self.say(f"task {run.task_id} failed: {type(exc).__name__}: {exc}")
        else:
            ended = summary.get("status")
            self.say(f"task {run.task_id}: {ended}" + _error_of(summary))

    def _joinable(self) -> int | None:
        """A running shared job (of a kind that can be joined) with items left to claim."""
        now = utcnow()
        fresh = now - timedelta(seconds=self.settings.heartbeat_stale_seconds)
        claimable = exists().where(
            WorkItem.task_id == Task.id,
            WorkItem.outcome.is_(None),
            or_(WorkItem.lease_until.is_(None), WorkItem.lease_until < now),
        )
        query = (
            select(Task)
            .where(
                Task.status == TaskStatus.RUNNING.value,
                Task.heartbeat_at > fresh,
                Task.cancel_requested.is_(False),
                claimable,
            )
            .order_by(Task.id)
        )
        if self.project_ids is not None:
            query = query.where(Task.project_id.in_(self.project_ids))
        with self.store.session() as session:
            for task in session.scalars(query):
                kind = task.kind
                joinable = kind in self.kinds.names() and self.kinds.get(kind).join is not None
                if joinable and for_workers(task.params) and not is_stale(task, self.settings):
                    return task.id
        return None

    async def _join(self, task_id: int) -> None:
        with self.store.session() as session:
            task = session.get(Task, task_id)
            kind = None if task is None else self.kinds.get(task.kind)
        if kind is None or kind.join is None:
            return
        self.jobs_joined += 1
        self.say(f"task {task_id}: joined, to share its work")
        try:
            ended = await kind.join(self.store, self.settings, task_id).run()
        except Exception as exc:  # its items go back to the job; the worker goes on
            self.say(f"task {task_id}: left: {type(exc).__name__}: {exc}")
            return
        self.say(f"task {task_id}: left after {ended} items")


def _error_of(summary: dict[str, object]) -> str:
    error = summary.get("last_error")
    return f" ({error})" if error and summary.get("status") != TaskStatus.SUCCEEDED.value else ""
