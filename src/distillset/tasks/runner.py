"""Running a task in a running asyncio loop: claim, heartbeat, progress, cancel, finish.

``run_task`` is the one entry point for the CLI, the Python API and the web server. A task
is resumable at any time: the job is planned again from what is stored (top-up), and calls
that already succeeded are answered from the gateway's cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from typing import Any

from distillset.config import Settings
from distillset.distill.auto import JobScheduler
from distillset.distill.context import DistillContext, load_context
from distillset.distill.plan import JobSpec, Plan, leaf_depth, load_snapshot, plan_job
from distillset.distill.progress import JobProgress
from distillset.domain import ConflictError, InvalidInputError, TaskKind, TaskStatus
from distillset.llm import Gateway
from distillset.store import Project, Store, Task
from distillset.store.models import utcnow
from distillset.tasks.service import add_events, claim_task, get_task, process_owner, task_as_dict

# The kinds this runner runs (judge tasks have their own runner in distillset.quality).
DISTILL_KINDS = {
    TaskKind.AUTO_DISTILL.value,
    TaskKind.TAGS.value,
    TaskKind.QUESTIONS.value,
    TaskKind.ANSWERS.value,
}

# How often counters and events are written, and the cancel flag is read.
FLUSH_INTERVAL = 0.5

ProgressCallback = Callable[[dict[str, Any]], None]


def _resumed_counters(stored: dict[str, Any], plan: Plan) -> JobProgress:
    """Counters for the whole job: what the earlier runs did plus what is still planned.

    Failures of earlier runs are retried now, so only the work still to do is open.
    """
    progress = JobProgress.from_dict(stored)
    remaining = {"tags": plan.tags, "questions": plan.questions, "answers": plan.answers}
    for name, still in remaining.items():
        counts = progress.stage(name)
        counts.done = max(0, counts.planned - still) if counts.planned else 0
        counts.planned = counts.done + still
        counts.failed = 0
    return progress


class TaskRun:
    """One run of a task row in this process."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        task_id: int,
        *,
        cancel_event: asyncio.Event | None = None,
        on_progress: ProgressCallback | None = None,
        use_cache: bool = True,
    ) -> None:
        self.store, self.settings, self.task_id = store, settings, task_id
        self.cancel_event = cancel_event or asyncio.Event()
        self.on_progress = on_progress
        self.use_cache = use_cache
        self.progress = JobProgress()
        self.plan = Plan()
        # Unique per run, so two runs in one process (the web server) are told apart.
        self.owner = f"{process_owner()}:{secrets.token_hex(3)}"
        self.lost = False

    def _prepare(self) -> tuple[DistillContext, JobSpec, Any, int]:
        with self.store.session() as session:
            task = claim_task(session, self.task_id, self.settings, self.owner)
            project = session.get(Project, task.project_id)
            assert project is not None
            if task.kind not in DISTILL_KINDS:
                raise InvalidInputError(
                    f"task {task.id} is a {task.kind} task, which this runner does not run"
                )
            spec = JobSpec.from_params(task.params)
            needs_questions = spec.levels > 0 or spec.questions_per_leaf > 0
            context = load_context(
                session,
                project,
                self.settings,
                topic=spec.topic,
                need_question_model=needs_questions,
                need_answer_model=spec.answer,
            )
            snapshot = None if spec.answer_only else load_snapshot(session, project.id)
            self.plan, ready = plan_job(session, project.id, spec, snapshot)
            bottom = 0 if snapshot is None else leaf_depth(spec, snapshot)
            self.progress = _resumed_counters(task.counters or {}, self.plan)
            task.counters = self._counters()
            self.progress.event(
                f"started: {self.plan.tags} tags, {self.plan.questions} questions, "
                f"{self.plan.answers} answers to create"
            )
            return context, spec, (ready, snapshot.depth if snapshot else {}), bottom

    def _counters(self) -> dict[str, Any]:
        return self.progress.as_dict() | {"plan": self.plan.as_dict()}

    def _flush(self, *, status: TaskStatus | None = None, error: str | None = None) -> bool:
        """Write counters, events and the heartbeat; returns whether a cancel was asked."""
        with self.store.session() as session:
            task = session.get(Task, self.task_id)
            if task is None or task.owner != self.owner:
                # Deleted, or taken over by a process that found our heartbeat stale: stop
                # without touching a row that is no longer ours.
                self.lost = True
                return True
            if task.status == TaskStatus.INTERRUPTED.value and status is None:
                task.status = TaskStatus.RUNNING.value  # an observer thought we were gone
            task.counters = self._counters()
            task.heartbeat_at = utcnow()
            add_events(session, self.task_id, self.progress.take_events())
            if self.progress.last_error:
                task.last_error = self.progress.last_error
            if status is not None:
                task.status = status.value
                task.finished_at = utcnow()
                if error:
                    task.last_error = error
            cancel = task.cancel_requested
        if self.on_progress is not None:
            self.on_progress(self._counters())
        return cancel

    async def _watch(self, job: asyncio.Task[None]) -> None:
        """Heartbeat and counters every interval; stop the job when a cancel is asked."""
        while not job.done():
            if self._flush():
                self.cancel_event.set()
            if self.cancel_event.is_set():
                job.cancel()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.cancel_event.wait(), FLUSH_INTERVAL)

    async def run(self) -> dict[str, Any]:
        context, spec, (ready, depths), bottom = self._prepare()
        status, error = TaskStatus.SUCCEEDED, None
        try:
            async with Gateway(
                self.store, context.limits, project_id=context.project_id, use_cache=self.use_cache
            ) as gateway:
                scheduler = JobScheduler(
                    self.store,
                    gateway,
                    context,
                    spec,
                    self.progress,
                    leaf_depth=bottom,
                    task_id=self.task_id,
                )
                scheduler.seed(ready, depths)
                job = asyncio.create_task(scheduler.run())
                watcher = asyncio.create_task(self._watch(job))
                try:
                    await job
                finally:
                    watcher.cancel()
                    await asyncio.gather(watcher, return_exceptions=True)
        except asyncio.CancelledError:
            if self.lost:
                raise ConflictError(
                    f"task {self.task_id} was deleted or taken over by another process"
                ) from None
            status = TaskStatus.CANCELLED
            self.progress.event("cancelled", "warning")
            if not self.cancel_event.is_set():
                # Cancelled from outside (Ctrl-C, server shutdown): record it, then go on.
                self._flush(status=status)
                raise
        except Exception as exc:
            status, error = TaskStatus.FAILED, f"{type(exc).__name__}: {exc}"
            self.progress.event(error, "error")
            self._flush(status=status, error=error)
            raise
        else:
            failed = sum(self.progress.stage(n).failed for n in ("tags", "questions", "answers"))
            if failed:
                status = TaskStatus.FAILED
                error = self.progress.last_error or f"{failed} items failed"
                self.progress.event(f"finished with {failed} failed items (resume to retry them)")
            else:
                self.progress.event("finished")
        self._flush(status=status, error=error)
        return self.summary()

    def summary(self) -> dict[str, Any]:
        with self.store.session() as session:
            task = session.get(Task, self.task_id)
            assert task is not None
            return task_as_dict(task, self.settings)


async def run_task(
    store: Store,
    settings: Settings,
    task_id: int,
    *,
    cancel_event: asyncio.Event | None = None,
    on_progress: ProgressCallback | None = None,
    use_cache: bool = True,
) -> dict[str, Any]:
    """Run (or resume) a task to its end in the current loop; returns the task as a dict.

    Setting ``cancel_event`` (or `tasks cancel ID` from any process) ends it as cancelled.
    Raises ConflictError when a living process already runs it or another task of its kind.
    """
    with store.session() as session:
        kind = get_task(session, task_id).kind
    if kind == TaskKind.JUDGE.value:
        # Judge tasks have their own runner; imported here to keep the packages acyclic.
        from distillset.quality.judge import run_judge_task

        return await run_judge_task(
            store, settings, task_id, cancel_event=cancel_event, on_progress=on_progress
        )
    run = TaskRun(
        store,
        settings,
        task_id,
        cancel_event=cancel_event,
        on_progress=on_progress,
        use_cache=use_cache,
    )
    return await run.run()
