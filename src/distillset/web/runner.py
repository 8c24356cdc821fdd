"""Background tasks of the server: each runs on the server's event loop, not in a request.

A request starts a task and returns at once; leaving the page does not stop it. The task row
in the store is the truth about its progress (the SSE stream reads it), so a page opened later,
or another process, sees the same state. A server started with --queue
(``settings.queue_tasks``) runs nothing itself: it leaves each task to the workers
(`distillset worker`), and its pages follow the task row as they do any other.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select

from distillset.config import Settings
from distillset.domain import TaskStatus
from distillset.kinds import run_task
from distillset.runs import ask_fresh, get_task, requeue
from distillset.store import Store, Task, utcnow

log = logging.getLogger(__name__)

# How often a request awaiting a task that workers run looks at its row.
QUEUE_POLL_SECONDS = 0.2


class TaskRunner:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._running: dict[int, asyncio.Task[Any]] = {}
        self._cancel_events: dict[int, asyncio.Event] = {}

    def start(self, task_id: int, *, use_cache: bool = True) -> None:
        """Run (or resume) the task in the background; one run per task at a time.

        ``use_cache=False`` asks the model again for calls that have a stored reply."""
        if self.settings.queue_tasks:
            self._queue(task_id, use_cache)
            return
        if self.is_running(task_id):
            return
        cancel_event = asyncio.Event()
        job = asyncio.get_running_loop().create_task(
            run_task(
                self.store,
                self.settings,
                task_id,
                cancel_event=cancel_event,
                use_cache=use_cache,
            ),
            name=f"task-{task_id}",
        )
        self._running[task_id] = job
        self._cancel_events[task_id] = cancel_event
        job.add_done_callback(lambda done: self._finished(task_id, done))

    async def run_to_end(self, task_id: int, *, use_cache: bool = True) -> None:
        """Run the task and wait for its end (an action awaited in a request). A client that
        leaves does not stop it: it goes on in the background, on its task page."""
        self.start(task_id, use_cache=use_cache)
        if self.settings.queue_tasks:
            await self._wait_for_workers(task_id)
            return
        job = self._running.get(task_id)
        if job is not None:
            await asyncio.shield(job)

    def _queue(self, task_id: int, use_cache: bool) -> None:
        with self.store.session() as session:
            task = get_task(session, task_id)
            if not use_cache:
                ask_fresh(task)
            requeue(task)

    async def _wait_for_workers(self, task_id: int) -> None:
        """Wait until a worker has ended the task (a client that leaves stops waiting only)."""
        while True:
            with self.store.session() as session:
                status = TaskStatus(get_task(session, task_id).status)
            if status.finished:
                return
            await asyncio.sleep(QUEUE_POLL_SECONDS)

    def cancel(self, task_id: int) -> None:
        """Stop a run of this process now (the stored cancel flag reaches other processes)."""
        event = self._cancel_events.get(task_id)
        if event is not None:
            event.set()

    def _finished(self, task_id: int, job: asyncio.Task[Any]) -> None:
        self._running.pop(task_id, None)
        self._cancel_events.pop(task_id, None)
        error = None if job.cancelled() else job.exception()
        if error is not None:
            # A refused run has already ended its task with the reason (the core does it).
            log.error("task %s stopped with an error", task_id, exc_info=error)

    def is_running(self, task_id: int) -> bool:
        job = self._running.get(task_id)
        return job is not None and not job.done()

    async def shutdown(self) -> None:
        """Stop the runs of this process; their tasks end interrupted, to be resumed (a
        shutdown is no cancel)."""
        jobs = dict(self._running)
        for job in jobs.values():
            job.cancel()
        if jobs:
            await asyncio.gather(*jobs.values(), return_exceptions=True)
            self._interrupt_unclaimed(list(jobs))

    def _interrupt_unclaimed(self, task_ids: list[int]) -> None:
        """A run stopped before it claimed its task left it queued, though this server
        started it: mark it interrupted too, so its pages offer to resume it."""
        with self.store.session() as session:
            unclaimed = select(Task).where(
                Task.id.in_(task_ids), Task.status == TaskStatus.QUEUED.value
            )
            for task in session.scalars(unclaimed):
                task.status = TaskStatus.INTERRUPTED.value
                task.finished_at = utcnow()
