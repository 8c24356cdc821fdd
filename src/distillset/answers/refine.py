"""Refining records with advice: the answer model rewrites a record's answer (and, as it
thinks again, its reasoning) following a reviewer's advice, as a resumable task.

The text a refine replaces is kept in the record's history (review.history), tagged with
the task, which is also how a resumed task knows what it has done: it refines the filter's
records that have no history row of its own. The refined text starts unreviewed, and keeps
the record's prompt (what an export shows as the instruction): the refine prompt is a
reviewing aid, not the instruction the answer is for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.domain import (
    InvalidInputError,
    ModelCallError,
    NotFoundError,
    TaskKind,
    TaskStatus,
    checked_text,
    storable_text,
)
from distillset.generation.item_run import ItemRun
from distillset.llm import EndpointConfig, Gateway, LimitSettings
from distillset.projects.endpoints import endpoint_config, get_endpoint
from distillset.prompts import empty_list_word, get_prompt, render
from distillset.review.editing import count_records, get_answer, score_values
from distillset.review.filters import RecordFilter, filtered_ids_query
from distillset.review.records import DatasetRecord, fetch_page
from distillset.review.versions import drop_generation_traces, keep_version
from distillset.runs.kinds import ProgressCallback, Stage, TaskKindSpec
from distillset.runs.progress import StageProgress, initial_counters
from distillset.runs.runner import ask_fresh, reads_cache, set_budget
from distillset.store import Project, RecordVersion, Store, TagPaths, Task

STAGE = "refined"
REFINE_STAGES = (Stage(STAGE, "Refined"),)
MAX_ADVICE_CHARS = 5_000
PAGE_SIZE = 200
# Ids named one by one are checked to exist (a clear "no record N"); past this many, a
# missing one is simply not matched.
MAX_CHECKED_IDS = 1_000
# What the history says replaced a refined text.
CHANGE_PREFIX = "refined: "


def checked_advice(advice: str) -> str:
    """The advice as it may be sent: refused when empty, too long or unstorable."""
    checked_text("advice", advice, MAX_ADVICE_CHARS, single_line=False)
    if not advice.strip():
        raise InvalidInputError("the advice is empty: say how the answer should change")
    return advice.strip()


def _refine_alias(project: Project, model: str | None) -> str:
    if model:
        return model
    if project.answer_model is not None:
        return project.answer_model.alias
    raise InvalidInputError(
        f"no model to refine with: pass --model ALIAS or set the project's answer model "
        f"(`distillset project set {project.name!r} --answer-model ALIAS`)"
    )


def _left_count(
    session: Session, project: Project, record_filter: RecordFilter, task_id: int
) -> int:
    ids = filtered_ids_query(session, project, record_filter).subquery()
    done = select(RecordVersion.answer_id).where(RecordVersion.task_id == task_id)
    query = select(func.count()).select_from(ids).where(ids.c.id.not_in(done))
    return int(session.scalar(query) or 0)


def _refined_count(session: Session, task_id: int) -> int:
    query = select(func.count(func.distinct(RecordVersion.answer_id))).where(
        RecordVersion.task_id == task_id
    )
    return int(session.scalar(query) or 0)


def create_refine_task(
    session: Session,
    project: Project,
    *,
    advice: str,
    record_filter: RecordFilter,
    model: str | None = None,
    everything: bool = False,
    no_cache: bool = False,
    max_cost: float | None = None,
) -> Task:
    """A queued refine task over the filter's records (an empty filter is refused unless
    ``everything`` says out loud that the whole dataset is meant). One record
    (a filter of one id) gets a scope of its own, so refines of different records run side
    by side. Run it with ``distillset.kinds.run_task``."""
    advice = checked_advice(advice)
    if not record_filter.as_dict() and not everything:
        raise InvalidInputError(
            "choose the records to refine: --id N, a filter (--tag, --max-score...), or --all"
        )
    for record_id in record_filter.ids[:MAX_CHECKED_IDS]:
        get_answer(session, project, record_id)  # "no record N in project P"
    alias = get_endpoint(session, _refine_alias(project, model)).alias
    planned = count_records(session, project, record_filter)
    if planned == 0:
        raise InvalidInputError("no record matches: nothing to refine")
    ids = record_filter.ids
    task = Task(
        project_id=project.id,
        kind=TaskKind.REFINE.value,
        params={"model": alias, "advice": advice, "filter": record_filter.as_dict()},
        scope=f"record:{ids[0]}" if record_filter.as_dict() == {"ids": list(ids)[:1]} else None,
        status=TaskStatus.QUEUED.value,
        counters=initial_counters({STAGE: planned}),
    )
    if no_cache:
        ask_fresh(task)
    set_budget(task, max_cost)
    session.add(task)
    session.flush()
    return task


@dataclass
class _Setup:
    project: Project
    endpoint: EndpointConfig
    template: str
    advice: str
    system_prompt: str | None
    none_word: str
    record_filter: RecordFilter


class RefineRun(ItemRun):
    """One run of a refine task in this process."""

    setup: _Setup | None = None

    def new_progress(self) -> StageProgress:
        return StageProgress([STAGE])

    def prepare(self) -> None:
        with self.store.session() as session:
            task = self.claim(session, TaskKind.REFINE)
            project = session.get(Project, task.project_id)
            assert project is not None
            record_filter = RecordFilter.from_dict(dict(task.params.get("filter") or {}))
            self.use_cache = self.use_cache and reads_cache(task.params)
            endpoint = endpoint_config(get_endpoint(session, task.params["model"]), self.settings)
            remaining = _left_count(session, project, record_filter, task.id)
            self.progress.load(task.counters or {})
            counts = self.progress.stage(STAGE)
            # What is done is what the history says (a run stopped mid-write may not have
            # counted a record it stored); earlier failures are open work again.
            counts.done = _refined_count(session, task.id)
            counts.planned, counts.failed, counts.skipped = counts.done + remaining, 0, 0
            task.counters = self.counters()
            self.event(f"started: {remaining} records to refine")
            self.limits = LimitSettings.from_project(project)
            self.project_id = project.id
            self.setup = _Setup(
                project=project,
                endpoint=endpoint,
                template=get_prompt(session, project, "refine").template,
                advice=str(task.params["advice"]),
                system_prompt=project.answer_system_prompt,
                none_word=empty_list_word(project.language),
                record_filter=record_filter,
            )

    def failure_event(self, failed: int) -> tuple[str, str]:
        return f"{failed} records failed (run again to retry)", "warning"

    async def items(self) -> AsyncIterator[DatasetRecord]:
        setup = self.setup
        assert setup is not None
        after: int | None = None
        while True:
            with self.store.session() as session:
                page = fetch_page(
                    session,
                    setup.project,
                    setup.record_filter,
                    after=after,
                    limit=PAGE_SIZE,
                    paths=TagPaths(session, setup.project.id),
                )
                ids = [record.id for record in page]
                done = set(
                    session.scalars(
                        select(RecordVersion.answer_id).where(
                            RecordVersion.task_id == self.task_id,
                            RecordVersion.answer_id.in_(ids),
                        )
                    )
                )
            for record in page:
                if record.id not in done:
                    yield record
            if len(page) < PAGE_SIZE:
                return
            after = page[-1].id

    def _messages(self, setup: _Setup, record: DatasetRecord) -> list[dict[str, str]]:
        prompt = render(
            setup.template,
            question=record.question,
            answer=record.answer,
            reasoning=record.reasoning or setup.none_word,
            advice=setup.advice,
            path=record.tag_path,
            topic=setup.project.topic,
        )
        messages = [{"role": "user", "content": prompt}]
        if setup.system_prompt:
            messages.insert(0, {"role": "system", "content": setup.system_prompt})
        return messages

    async def handle(self, gateway: Gateway, item: Any) -> None:
        setup = self.setup
        assert setup is not None
        record: DatasetRecord = item
        counts = self.progress.stage(STAGE)
        if counts.done + counts.failed + counts.skipped >= counts.planned:
            counts.planned += 1  # a record that came to match since the run started
        with self.store.session() as session:
            # Each refine of a record is a new request (a restored text refined again
            # with the same advice gets a new sample); a resumed task reads its cache.
            attempt = int(
                session.scalar(select(func.count()).where(RecordVersion.answer_id == record.id))
                or 0
            )
        try:
            result = await gateway.chat(
                setup.endpoint,
                self._messages(setup, record),
                purpose="refine",
                task_id=self.task_id,
                attempt=attempt,
                stream=setup.endpoint.stream,
            )
            answer = storable_text(result.content).strip()
            if not answer:
                raise ModelCallError("the model returned an empty answer")
        except ModelCallError as exc:
            self._fail(record.id, str(exc) or type(exc).__name__)
            return
        error = await asyncio.to_thread(self._store_refined, setup, record, result, answer)
        if error is not None:
            self._fail(record.id, error)
            return
        self.progress.add_done(STAGE)

    def _fail(self, record_id: int, error: str) -> None:
        reason = f"record {record_id}: {error}"
        self.progress.add_failed(STAGE, 1, reason)
        self.event(reason, "error")

    def _store_refined(
        self, setup: _Setup, record: DatasetRecord, result: Any, answer: str
    ) -> str | None:
        """Keep the current text as a version and store the refined one; an error when the
        record changed or went away meanwhile (the refine was of a text it no longer has)."""
        with self.store.session() as session:
            try:
                row = get_answer(session, setup.project, record.id)
            except NotFoundError:
                return "deleted while it was being refined"
            if row.answer != record.answer or row.reasoning != record.reasoning:
                return "edited while it was being refined: run again to refine the new text"
            keep_version(session, row, CHANGE_PREFIX + setup.advice, task_id=self.task_id)
            row.answer = answer
            row.reasoning = storable_text(result.reasoning) if result.reasoning else None
            row.model = result.model or setup.endpoint.model
            row.finish_reason = result.finish_reason
            row.output_tokens = result.output_tokens
            row.reasoning_tokens = result.reasoning_tokens
            row.latency_ms = result.latency_ms
            row.confirmed = False
            for name, value in score_values(None, None).items():
                setattr(row, name, value)
            session.flush()
            drop_generation_traces(session, record.id)
        return None


async def run_refine_task(
    store: Store,
    settings: Settings,
    task_id: int,
    *,
    cancel_event: asyncio.Event | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Run (or resume) a refine task to its end; returns the task as a dict."""
    run = RefineRun(store, settings, task_id, cancel_event=cancel_event, on_progress=on_progress)
    return await run.run()


REFINE_KIND = TaskKindSpec(TaskKind.REFINE.value, REFINE_STAGES, RefineRun)
