"""Distillation tasks (tags, questions, answers, auto-distill): their rows and their run.

The kinds are declared here (``DISTILL_KINDS``) and registered by the application; the task
machinery (claim, heartbeat, cancel, finish) is the shared ``SupervisedRun``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.auto.helper import JobHelper
from distillset.auto.plan import (
    JobSpec,
    Plan,
    WorkItem,
    leaf_depth,
    load_snapshot,
    plan_job,
)
from distillset.auto.progress import DISTILL_STAGES, JobProgress
from distillset.auto.scheduler import JobScheduler
from distillset.auto.shared_steps import planned_items, shares_answers, shares_tree
from distillset.config import Settings
from distillset.domain import InvalidInputError, TaskKind, TaskStatus
from distillset.generation.context import DistillContext, load_context, with_temperature
from distillset.generation.local_embedder import LocalEmbedder
from distillset.generation.semantic_guard import SemanticGuard, Vectors
from distillset.llm import BatchOptions, BatchQueue, EndpointConfig, Gateway, open_gateway
from distillset.projects.endpoints import endpoint_config, get_endpoint, remember_learned_limit
from distillset.runs.kinds import TaskKindSpec
from distillset.runs.queue import for_workers
from distillset.runs.rows import claim_task, effective_status
from distillset.runs.runner import SupervisedRun, reads_cache
from distillset.runs.shared import DONE, EXPAND, FAILED, QUESTIONS, SKIPPED, Item, can_share
from distillset.store import Project, Question, Task


def stage_work(plan: Plan) -> dict[str, int]:
    """The work a plan holds, per declared stage."""
    return {
        "tags": plan.tags,
        "questions": plan.questions,
        "answers": plan.answers,
        "turns": plan.turns,
    }


def create_task(
    session: Session, project: Project, kind: TaskKind, spec: JobSpec, plan: Plan
) -> Task:
    """A queued distillation task with its plan's counts as its planned work."""
    progress = JobProgress()
    for name, planned in stage_work(plan).items():
        progress.stage(name).planned = planned
    task = Task(
        project_id=project.id,
        kind=kind.value,
        scope=spec.scope,
        params=spec.as_params(),
        status=TaskStatus.QUEUED.value,
        counters=progress.as_dict() | {"plan": plan.as_dict()},
    )
    session.add(task)
    session.flush()
    return task


def resumable_task(
    session: Session, settings: Settings, project: Project, kind: TaskKind, spec: JobSpec
) -> Task | None:
    """An earlier task of the same job that stopped before its end (its process was killed
    or stopped from outside): running it again resumes it, rather than leaving it behind.
    A job without a topic and one naming the project's topic are the same job."""

    def same_job(params: dict[str, Any]) -> bool:
        stored = JobSpec.from_params(params)
        return replace(stored, topic=stored.topic or project.topic) == replace(
            spec, topic=spec.topic or project.topic
        )

    query = (
        select(Task)
        .where(
            Task.project_id == project.id,
            Task.kind == kind.value,
            Task.status.in_(
                [TaskStatus.RUNNING.value, TaskStatus.INTERRUPTED.value, TaskStatus.QUEUED.value]
            ),
        )
        .order_by(Task.id.desc())
    )
    for task in session.scalars(query):
        interrupted = effective_status(task, settings) is TaskStatus.INTERRUPTED
        never_started = task.status == TaskStatus.QUEUED.value and task.started_at is None
        if (interrupted or never_started) and same_job(task.params or {}):
            return task
    return None


@dataclass(frozen=True)
class _PlannedJob:
    """What a distillation run's planning hands to its work."""

    context: DistillContext
    spec: JobSpec
    ready: WorkItem
    depths: dict[int, int]
    leaf_depth: int
    # The endpoint that embeds questions for semantic dedup, where the job asks for it.
    embeddings: EndpointConfig | None = None


class DistillRun(SupervisedRun):
    """One run of a distillation task row (tags, questions, answers, auto) in this process."""

    progress: JobProgress
    # What is left to do, as planned when the run starts; empty until then.
    # (A class default: prepare() assigns each run its own.)
    plan = Plan()
    _job: _PlannedJob | None = None
    _gateway: Gateway | None = None
    _batches: BatchQueue | None = None
    _concurrency: int | None = None  # the last learned limit, kept once the gateway closes
    # A shared job: the tags, questions and answers done before this run (its items count
    # the rest), and whether its expansions and top-ups are items too.
    _done_before: dict[str, int] = {}
    _tree_shared = False

    def new_progress(self) -> JobProgress:
        return JobProgress()

    def prepare(self) -> None:
        with self.store.session() as session:
            task = claim_task(session, self.task_id, self.settings, self.owner)
            project = session.get(Project, task.project_id)
            assert project is not None
            if task.kind not in DISTILL_KIND_NAMES:
                raise InvalidInputError(
                    f"task {task.id} is a {task.kind} task, which this runner does not run"
                )
            spec = JobSpec.from_params(task.params)
            self.use_cache = self.use_cache and reads_cache(task.params)
            needs_questions = spec.levels > 0 or spec.questions_per_leaf > 0
            context = load_context(
                session,
                project,
                self.settings,
                topic=spec.topic,
                need_question_model=needs_questions,
                need_answer_model=spec.answer,
                need_user_model=spec.conversations,
            )
            context = with_temperature(context, spec.temperature)
            snapshot = (
                None if spec.answer_only else load_snapshot(session, project.id, spec.samples)
            )
            self.plan, ready = plan_job(session, project.id, spec, snapshot)
            bottom = 0 if snapshot is None else leaf_depth(spec, snapshot)
            self.progress = JobProgress.from_dict(task.counters or {})
            self.progress.resume(stage_work(self.plan))
            task.counters = self.counters()
            conversations = (
                f", {self.plan.conversations} conversations ({self.plan.turns} turns)"
                if spec.conversations
                else ""
            )
            self.progress.event(
                f"started: {self.plan.tags} tags, {self.plan.questions} questions, "
                f"{self.plan.answers} answers{conversations} to create"
            )
            embeddings = None
            if spec.embeddings is not None:
                embeddings = endpoint_config(get_endpoint(session, spec.embeddings), self.settings)
            # Workers share single answers and the tree's expansions and top-ups where the
            # job allows it (see auto.shared_steps): they are items any of them claims.
            shareable = shares_answers(spec) or shares_tree(spec)
            items: list[Item] = []
            if shareable and can_share(self.store) and for_workers(task.params):
                items, ready = planned_items(spec, ready)
                self._done_before = {
                    name: self.progress.stage(name).done
                    for name in ("tags", "questions", "answers")
                }
                self._tree_shared = shares_tree(spec)
                self.share_job()
            self._job = _PlannedJob(
                context,
                spec,
                ready,
                snapshot.depth if snapshot else {},
                leaf_depth=bottom,
                embeddings=embeddings,
            )
        if self.shared_items is not None:
            self.shared_items.plan(items)

    async def work(self) -> None:
        job = self._job
        assert job is not None, "prepare() first"
        context = job.context
        batches = None
        if job.spec.batch_answers and context.answer_endpoint is not None:
            options = BatchOptions.from_settings(self.settings, frozenset({"answer"}))
            batches = BatchQueue(
                self.store,
                options,
                project_id=context.project_id,
                task_id=self.task_id,
                request_timeout=context.limits.request_timeout,
            )
            await batches.resume([context.answer_endpoint])
        self._batches = batches
        try:
            await self._work(job, batches)
        finally:
            if batches is not None:
                await batches.aclose(cancel_remote=self.cancelled_by_user())

    async def _work(self, job: _PlannedJob, batches: BatchQueue | None) -> None:
        context = job.context
        async with open_gateway(
            self.store,
            context.limits,
            project_id=context.project_id,
            use_cache=self.use_cache,
            send_guard=self.send_guard,
            batches=batches,
        ) as gateway:
            self._gateway = gateway
            self.use_slots(gateway.limiter, context.limits.request_timeout)
            guard = self._guard(gateway, job)
            scheduler = JobScheduler(
                self.store,
                gateway,
                context,
                job.spec,
                self.progress,
                leaf_depth=job.leaf_depth,
                task_id=self.task_id,
                screen=None if guard is None else guard.screen,
                shared=self.shared_items,
            )
            scheduler.seed(job.ready, job.depths)
            try:
                await scheduler.run()
            finally:
                self._learned_limit(gateway, context)
                self._gateway = None
                if guard is not None and guard.dropped:
                    self.progress.event(
                        f"dropped {len(guard.dropped)} proposed questions as too close in "
                        f"meaning to questions of the project (cosine >= {guard.threshold:g})"
                    )
        if self.shared_items is not None:
            with self.store.session() as session:
                self.count_shared(self.shared_items.tally(session))

    def count_shared(self, tally: dict[str, int]) -> None:
        answers = self.progress.stage("answers")
        answers.done = min(answers.planned, self._done_before["answers"] + tally.get(DONE, 0))
        answers.failed = min(answers.planned - answers.done, tally.get(FAILED, 0))
        open_work = answers.planned - answers.done - answers.failed
        answers.skipped = min(open_work, tally.get(SKIPPED, 0))
        if not self._tree_shared:
            return
        assert self.shared_items is not None
        with self.store.session() as session:
            # The rows every worker's expansions and top-ups made, and those they could not.
            rows = {name: self.shared_items.rows(session, stage) for name, stage in _TREE_STAGES}
        for name, (made, short) in rows.items():
            counts = self.progress.stage(name)
            counts.done = min(counts.planned, self._done_before[name] + made)
            counts.failed = min(counts.planned - counts.done, short)

    def _learned_limit(self, gateway: Gateway, context: DistillContext) -> None:
        """Keep the concurrency the endpoint's adaptive limit learned, for `model show`."""
        endpoint = context.answer_endpoint or context.question_endpoint
        if endpoint is None or not endpoint.adaptive:
            return
        with self.store.session() as session:
            remember_learned_limit(session, endpoint.alias, gateway.concurrency(endpoint))

    def _guard(self, gateway: Gateway, job: _PlannedJob) -> SemanticGuard | None:
        """The semantic dedup of new questions, when the job asks for it."""
        threshold, endpoint = job.spec.semantic_dedup, job.embeddings
        if threshold is None:
            return None
        project_id = job.context.project_id

        def existing() -> list[str]:
            with self.store.session() as session:
                query = (
                    select(Question.text)
                    .where(Question.project_id == project_id)
                    .order_by(Question.id)
                )
                return list(session.scalars(query))

        if endpoint is None:  # the offline model, on a worker thread (it is CPU-bound)
            local = LocalEmbedder()

            async def embed(texts: list[str]) -> Vectors:
                return await asyncio.to_thread(local.embed, texts)

        else:

            async def embed(texts: list[str]) -> Vectors:
                return await gateway.embed(endpoint, texts, task_id=self.task_id)

        return SemanticGuard(embed, threshold, existing)

    def counters(self) -> dict[str, Any]:
        counters = self.progress.as_dict() | {"plan": self.plan.as_dict()}
        # Requests sent and not answered yet: a stalled endpoint is visible at once.
        waiting, longest = (0, 0.0) if self._gateway is None else self._gateway.limiter.waiting()
        counters["calls"]["waiting"] = waiting
        counters["calls"]["longest_wait_seconds"] = round(longest, 1)
        if self._gateway is not None and self._job is not None:
            # The endpoint's learned limit: how many requests it takes at once now.
            context = self._job.context
            endpoint = context.answer_endpoint or context.question_endpoint
            if endpoint is not None:
                self._concurrency = self._gateway.concurrency(endpoint)
        if self._concurrency is not None:
            counters["calls"]["concurrency"] = self._concurrency
        if self._batches is not None:
            counters["batches"] = self._batches.progress()
        return counters


# The stages whose counts a shared job takes from its expansion and top-up items.
_TREE_STAGES = (("tags", EXPAND), ("questions", QUESTIONS))

# Workers share the work of every distillation task (see auto/helper.py).
DISTILL_KINDS = (
    TaskKindSpec(TaskKind.AUTO_DISTILL.value, DISTILL_STAGES, DistillRun, join=JobHelper),
    TaskKindSpec(TaskKind.TAGS.value, DISTILL_STAGES, DistillRun, join=JobHelper),
    TaskKindSpec(TaskKind.QUESTIONS.value, DISTILL_STAGES, DistillRun, join=JobHelper),
    TaskKindSpec(TaskKind.ANSWERS.value, DISTILL_STAGES, DistillRun, join=JobHelper),
)
DISTILL_KIND_NAMES = frozenset(kind.name for kind in DISTILL_KINDS)
