"""AI scoring: a judge model grades records 0-5 with a short reason, as a resumable task.

By default the task covers a filter's *unscored* records, so running it again (after a crash,
a cancel or failures) scores only what is left. A *rescore* task covers every record the
filter selects, scored ones too (say, to judge again with another model); what it has left
is the records not scored since the task was created, so a resumed rescore never scores a
record twice. Either way, a call that already succeeded is answered from the gateway's
response cache, so a resumed run never pays twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.domain import (
    InvalidInputError,
    ModelCallError,
    SettingRequired,
    TaskKind,
    TaskStatus,
)
from distillset.generation.item_run import ItemRun
from distillset.llm import (
    BatchOptions,
    BatchQueue,
    EndpointConfig,
    Gateway,
    LimitSettings,
)
from distillset.projects.endpoints import endpoint_config, get_endpoint
from distillset.prompts import get_prompt, render
from distillset.review.editing import count_records, score_values
from distillset.review.filters import RecordFilter
from distillset.review.records import DatasetRecord, fetch_page
from distillset.review.selection import SelectBy, select_samples
from distillset.review.verdict import Verdict, parse_verdict
from distillset.runs.kinds import ProgressCallback, Stage, TaskKindSpec
from distillset.runs.progress import StageProgress, initial_counters
from distillset.runs.runner import ask_fresh, reads_cache, set_budget
from distillset.store import Answer, Project, Store, TagPaths, Task

STAGE = "judged"
JUDGE_STAGES = (Stage(STAGE, "Judged"),)
RESCORE_PARAM = "rescore"  # in the task params: whether the task rescores
BATCH_PARAM = "batch"  # in the task params: verdicts asked through the batch interface
# In the task params: whether the task then chooses each question's best-scored sample.
SELECT_PARAM = "select"
PAGE_SIZE = 500
# Verdicts waiting in batches at once (each a coroutine holding its record).
BATCH_WORKERS = 5_000
# A reply with no readable score is asked again (a new attempt number) this many times.
PARSE_ATTEMPTS = 3
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "number"}, "reason": {"type": "string"}},
    "required": ["score", "reason"],
    "additionalProperties": False,
}


def verdict_format(structured_output: str) -> dict[str, Any] | None:
    if structured_output == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA, "strict": True},
        }
    if structured_output == "json_object":
        return {"type": "json_object"}
    return None


def judge_filter(
    record_filter: RecordFilter, *, rescore: bool = False, since: datetime | None = None
) -> RecordFilter:
    """The records a judge task has left: the filter's unscored ones, or when it rescores,
    those not scored ``since`` its start."""
    if rescore:
        return replace(record_filter, scored_before=since)
    return replace(record_filter, scored=False)


def check_judge_filter(record_filter: RecordFilter, rescore: bool) -> None:
    """Score filters select scored records: a judge that scores unscored ones refuses them."""
    selects_scored = (
        record_filter.scored is True
        or record_filter.min_score is not None
        or record_filter.max_score is not None
    )
    if selects_scored and not rescore:
        raise InvalidInputError(
            "score filters select scored records, and the judge scores only unscored ones: "
            "drop them, or rescore (--rescore)"
        )


def judge_alias(project: Project, model: str | None) -> str:
    if model:
        return model
    if project.answer_model is not None:
        return project.answer_model.alias
    raise SettingRequired(
        "no judge model: choose one, or set the project's answer model",
        setting="answer_model",
        cli_fix=f"pass --model ALIAS or `distillset project set {project.name!r} --answer-model "
        "ALIAS`",
    )


def create_judge_task(
    session: Session,
    project: Project,
    *,
    model: str | None,
    record_filter: RecordFilter,
    rescore: bool = False,
    no_cache: bool = False,
    max_cost: float | None = None,
    batch: bool = False,
    select: bool = False,
) -> Task:
    """A queued judge task over the filter's unscored records, or all of them when it
    ``rescore``s (score filters allowed then); ``no_cache`` asks for fresh verdicts on
    every run of it; ``max_cost`` is its budget; ``batch`` asks the verdicts through the
    judge model's batch interface. With ``select`` it scores the samples of questions that
    have several and then chooses each one's best (review.selection). Run it with
    run_judge_task."""
    alias = get_endpoint(session, judge_alias(project, model)).alias
    if select:
        record_filter = replace(record_filter, sampled=True)
    check_judge_filter(record_filter, rescore)
    planned = count_records(session, project, judge_filter(record_filter, rescore=rescore))
    params: dict[str, Any] = {"model": alias, "filter": record_filter.as_dict()}
    if rescore:
        params[RESCORE_PARAM] = True
    if batch:
        params[BATCH_PARAM] = True
    if select:
        params[SELECT_PARAM] = True
    task = Task(
        project_id=project.id,
        kind=TaskKind.JUDGE.value,
        params=params,
        status=TaskStatus.QUEUED.value,
        counters=initial_counters({STAGE: planned}),
    )
    if no_cache:
        ask_fresh(task)
    set_budget(task, max_cost)
    session.add(task)
    session.flush()
    return task


def _stored_filter(task: Task) -> RecordFilter:
    """The filter a judge task row holds. Rows from before filters named their tag by id
    hold its path: such a task is refused with what to do, not read as a bad filter."""
    stored = dict(task.params.get("filter") or {})
    if "tag" in stored:
        raise InvalidInputError(
            f"task {task.id} was created by an older version of distillset (its filter names "
            f"the tag {stored['tag']!r} by path) and cannot be resumed: start the judge again "
            "with the same filters"
        )
    return RecordFilter.from_dict(stored)


@dataclass
class _Setup:
    project: Project
    endpoint: EndpointConfig
    template: str
    record_filter: RecordFilter  # what the task has left (judge_filter applied)
    batch: bool = False
    select: bool = False  # choose each question's best-scored sample at the end


class JudgeRun(ItemRun):
    """One run of a judge task in this process; the task machinery is the shared one."""

    # What prepare() read for the work; None until then (a class default, as DistillRun's).
    setup: _Setup | None = None

    def new_progress(self) -> StageProgress:
        return StageProgress([STAGE])

    def prepare(self) -> None:
        with self.store.session() as session:
            task = self.claim(session, TaskKind.JUDGE)
            project = session.get(Project, task.project_id)
            assert project is not None
            rescore = bool(task.params.get(RESCORE_PARAM))
            chosen = _stored_filter(task)
            record_filter = judge_filter(chosen, rescore=rescore, since=task.created_at)
            self.use_cache = self.use_cache and reads_cache(task.params)
            endpoint = endpoint_config(get_endpoint(session, task.params["model"]), self.settings)
            remaining = count_records(session, project, record_filter)
            # Earlier runs' scores stay done; their failures are open work again.
            self.progress.load(task.counters or {})
            counts = self.progress.stage(STAGE)
            counts.planned, counts.failed, counts.skipped = counts.done + remaining, 0, 0
            task.counters = self.counters()
            self.event(f"started: {remaining} records to score")
            self.limits = LimitSettings.from_project(project)
            self.project_id = project.id
            self.setup = _Setup(
                project=project,
                endpoint=endpoint,
                template=get_prompt(session, project, "judge").template,
                record_filter=record_filter,
                batch=bool(task.params.get(BATCH_PARAM)),
                select=bool(task.params.get(SELECT_PARAM)),
            )

    def failure_event(self, failed: int) -> tuple[str, str]:
        return f"{failed} records failed (run again to retry)", "warning"

    async def _records(self, setup: _Setup) -> AsyncIterator[DatasetRecord]:
        """The records left to score, page by page (keyset), read in short sessions."""
        after: int | None = None
        while True:
            with self.store.session() as session:
                paths = TagPaths(session, setup.project.id)
                page = fetch_page(
                    session,
                    setup.project,
                    setup.record_filter,
                    after=after,
                    limit=PAGE_SIZE,
                    paths=paths,
                )
            for record in page:
                yield record
            if len(page) < PAGE_SIZE:
                return
            after = page[-1].id

    async def _judge(self, gateway: Gateway, setup: _Setup, record: DatasetRecord) -> None:
        prompt = render(
            setup.template,
            question=record.question,
            answer=record.answer,
            reasoning=record.reasoning or "",
            path=record.tag_path,
            topic=setup.project.topic,
        )
        messages = [{"role": "user", "content": prompt}]
        error = "no readable score"
        verdict: Verdict | None = None
        for attempt in range(PARSE_ATTEMPTS):
            try:
                result = await gateway.chat(
                    setup.endpoint,
                    messages,
                    purpose="judge",
                    task_id=self.task_id,
                    attempt=attempt,
                    response_format=verdict_format(setup.endpoint.structured_output),
                )
                verdict = parse_verdict(result.content)
                break
            except ModelCallError as exc:  # ModelOutputError included: ask again
                error = str(exc)
                if exc.status is not None:
                    break  # the gateway already retried what HTTP errors deserve
        counts = self.progress.stage(STAGE)
        if counts.done + counts.failed + counts.skipped >= counts.planned:
            counts.planned += 1  # a record added since the run started: counted, not lost
        if verdict is None:
            reason = f"record {record.id}: {error}"
            self.progress.add_failed(STAGE, 1, reason)
            self.event(reason, "error")
            return
        with self.store.session() as session:
            session.execute(
                update(Answer)
                .where(Answer.id == record.id)
                .values(score_values(verdict.score, verdict.reason or None))
            )
        self.progress.add_done(STAGE)

    def counters(self) -> dict[str, Any]:
        counters = self.progress.as_dict()
        if self.batches is not None:
            counters["batches"] = self.batches.progress()
        return counters

    def concurrency(self, limits: LimitSettings) -> int:
        # In batch mode a verdict waits in a batch for a long time: many wait at once.
        if self.batches is None:
            return limits.max_concurrency
        return min(self.batches.options.max_lines, BATCH_WORKERS)

    def items(self) -> AsyncIterator[DatasetRecord]:
        assert self.setup is not None, "prepare() first"
        return self._records(self.setup)

    async def handle(self, gateway: Gateway, item: DatasetRecord) -> None:
        assert self.setup is not None, "prepare() first"
        await self._judge(gateway, self.setup, item)

    async def work(self) -> None:
        setup, limits = self.setup, self.limits
        assert setup is not None and limits is not None, "prepare() first"
        batches = None
        if setup.batch:
            options = BatchOptions.from_settings(self.settings, frozenset({"judge"}))
            batches = BatchQueue(
                self.store,
                options,
                project_id=setup.project.id,
                task_id=self.task_id,
                request_timeout=limits.request_timeout,
            )
            await batches.resume([setup.endpoint])
        self.batches = batches
        try:
            await super().work()
            if setup.select:
                self._select(setup)
        finally:
            if batches is not None:
                await batches.aclose(cancel_remote=self.cancelled_by_user())

    def _select(self, setup: _Setup) -> None:
        """Each question's best-scored sample becomes its chosen record."""
        with self.store.session() as session:
            project = session.get(Project, setup.project.id)
            assert project is not None
            result = select_samples(
                session, project, SelectBy.JUDGE, tag_id=setup.record_filter.tag_id
            )
        self.event(
            f"chose the best-scored sample of {result.chosen} of {result.questions} questions"
            + (f" ({result.undecided} with no scored sample)" if result.undecided else "")
        )


async def run_judge_task(
    store: Store,
    settings: Settings,
    task_id: int,
    *,
    cancel_event: asyncio.Event | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Run (or resume) a judge task to its end; returns the task as a dict."""
    run = JudgeRun(store, settings, task_id, cancel_event=cancel_event, on_progress=on_progress)
    return await run.run()


JUDGE_KIND = TaskKindSpec(TaskKind.JUDGE.value, JUDGE_STAGES, JudgeRun)
