"""A worker that joins a distillation task another worker runs, and shares its work.

The worker that claimed the task (its owner) plans it and ends it; the workers that join it
claim its items (``runs.shared``: expansions, question top-ups and answers, as the job
allows: see ``auto.shared_steps``) on the slots they lease, until none is left to claim. A
joined worker sends only while its part is confirmed by its heartbeat: the task still runs,
nobody asked to cancel it, and its owner is alive (a dead owner's task is claimed again by
a worker, which then plans and ends it).
"""

from __future__ import annotations

import asyncio
import secrets
import time

from distillset.auto.plan import JobSpec
from distillset.auto.progress import JobProgress
from distillset.auto.scheduler import JobScheduler
from distillset.config import Settings
from distillset.domain import TaskStatus
from distillset.generation.context import DistillContext, load_context, with_temperature
from distillset.llm import open_gateway
from distillset.runs.lease import OwnershipLease
from distillset.runs.rows import add_events, is_stale, process_owner
from distillset.runs.runner import FLUSH_INTERVAL, reads_cache
from distillset.runs.shared import SharedItems, SharedSlots, join_job, leave_job
from distillset.store import Project, Store, Tag, Task


class JobHelper:
    """One worker's part in a shared distillation task: it does the items it claims."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        task_id: int,
        *,
        cancel_event: asyncio.Event | None = None,
    ) -> None:
        self.store, self.settings, self.task_id = store, settings, task_id
        self.cancel_event = cancel_event or asyncio.Event()
        self.owner = f"{process_owner()}:{secrets.token_hex(3)}"
        self.lease = OwnershipLease(settings.heartbeat_stale_seconds)
        self.items = SharedItems(store, task_id, self.owner, settings.heartbeat_stale_seconds)
        self.progress = JobProgress()
        self._slots: SharedSlots | None = None
        # Why this worker stopped helping before the items ran out (None: it did not).
        self.stopped: str | None = None

    async def send_guard(self, cost: float = 0.0) -> None:
        """Before each request: this worker's part was confirmed recently."""
        await self.lease.wait_until_held()

    def _load(self) -> tuple[DistillContext, JobSpec, int, int, bool]:
        with self.store.session() as session:
            task = session.get(Task, self.task_id)
            if task is None:
                raise LookupError(f"task {self.task_id} is gone")
            project = session.get(Project, task.project_id)
            assert project is not None
            spec = JobSpec.from_params(task.params)
            context = load_context(
                session,
                project,
                self.settings,
                topic=spec.topic,
                need_question_model=spec.levels > 0 or spec.questions_per_leaf > 0,
                need_answer_model=spec.answer,
            )
            context = with_temperature(context, spec.temperature)
            # The depth of the job's leaves (as its plan has it: see plan.leaf_depth).
            root = None if spec.root_tag_id is None else session.get(Tag, spec.root_tag_id)
            if spec.root_tag_id is not None and root is None:
                raise LookupError(f"tag {spec.root_tag_id} of task {self.task_id} is gone")
            leaves = (0 if root is None else root.depth) + spec.levels
            join_job(session, self.task_id, self.owner)
            return context, spec, project.id, leaves, reads_cache(task.params)

    async def run(self) -> int:
        """Do the task's items until none is left to claim; returns how many ended."""
        context, spec, project_id, leaves, use_cache = self._load()
        self.lease.confirm(time.monotonic())
        try:
            async with open_gateway(
                self.store,
                context.limits,
                project_id=project_id,
                use_cache=use_cache,
                send_guard=self.send_guard,
            ) as gateway:
                self._slots = SharedSlots(
                    self.store,
                    gateway.limiter,
                    project_id=project_id,
                    task_id=self.task_id,
                    owner=self.owner,
                    lease_seconds=self.settings.heartbeat_stale_seconds,
                )
                if (why := self._beat()) is not None:  # its first slots, before any claim
                    self.stopped = why
                    return 0
                scheduler = JobScheduler(
                    self.store,
                    gateway,
                    context,
                    spec,
                    self.progress,
                    leaf_depth=leaves,
                    task_id=self.task_id,
                    shared=self.items,
                    wait_for_others=False,
                )
                await self._supervise(asyncio.create_task(scheduler.run()))
        finally:
            self._leave()
        return self.items.ended

    async def _supervise(self, job: asyncio.Task[None]) -> None:
        watcher = asyncio.create_task(self._watch(job))
        try:
            await job
        except asyncio.CancelledError:
            if not self.cancel_event.is_set() and self.stopped is None:
                raise  # stopped from outside (the worker shuts down)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def _watch(self, job: asyncio.Task[None]) -> None:
        while not job.done():
            try:
                self.stopped = self._beat()
            except Exception as exc:  # no heartbeat, no lease: stop rather than hang
                self.stopped = f"its heartbeat failed: {type(exc).__name__}: {exc}"
            if self.stopped is not None or self.cancel_event.is_set():
                job.cancel()
                return
            assert self._slots is not None
            await self._slots.wait_for_beat(self.cancel_event, FLUSH_INTERVAL)

    def _beat(self) -> str | None:
        """Renew this worker's part (items, slots) and write its events; returns why it
        must stop, if it must: the task ended, was cancelled, or its owner died."""
        beat = time.monotonic()
        with self.store.session() as session:
            task = session.get(Task, self.task_id)
            if task is None:
                return "the task was deleted"
            if task.status != TaskStatus.RUNNING.value or task.cancel_requested:
                return f"the task is {task.status}"
            if is_stale(task, self.settings):
                return "the task's owner stopped; a worker resumes it"
            join_job(session, self.task_id, self.owner)
            self.items.renew(session)
            assert self._slots is not None
            self._slots.rebalance(session)
            events = [
                (level, f"worker {self.owner}: {text}")
                for level, text in self.progress.take_events()
            ]
            add_events(session, self.task_id, events)
        self.lease.confirm(beat)
        return None

    def _leave(self) -> None:
        if self._slots is not None:
            self._slots.release_all()
        self.items.release()
        leave_job(self.store, self.task_id, self.owner)
