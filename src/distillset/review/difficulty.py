"""Difficulty: the judge model rates each question 1-10 with a short reason, as a resumable
task (kind ``rate``), so an export can keep the harder ones or balance by difficulty.

By default the task covers the unrated questions (of a subtree), so running it again rates
only what is left; a *rerate* task covers every question and has left those not rated since
it was created. A call that succeeded is answered from the response cache on a resume.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import json_repair
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from distillset.domain import ModelCallError, TaskKind, TaskStatus
from distillset.generation.item_run import ItemRun
from distillset.llm import EndpointConfig, Gateway, LimitSettings, ModelOutputError
from distillset.projects.endpoints import endpoint_config, get_endpoint
from distillset.prompts import get_prompt, render
from distillset.review.judge import PARSE_ATTEMPTS, judge_alias
from distillset.runs.kinds import Stage, TaskKindSpec
from distillset.runs.progress import StageProgress, initial_counters
from distillset.runs.runner import ask_fresh, reads_cache, set_budget
from distillset.store import Project, Question, TagPaths, Task, utcnow
from distillset.tags.tree import subtree_ids_query, tag_in_project

STAGE = "rated"
RATE_STAGES = (Stage(STAGE, "Rated"),)
RERATE_PARAM = "rerate"
PAGE_SIZE = 500
MAX_REASON_CHARS = 1_000
LOWEST, HIGHEST = 1, 10
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_PROSE = re.compile(r"(?:difficulty|难度|zorluk)\W{0,6}?(\d+(?:\.\d+)?)", re.IGNORECASE)


@dataclass(frozen=True)
class Rating:
    difficulty: int
    reason: str


def _clamped(value: float) -> int:
    return min(HIGHEST, max(LOWEST, round(value)))


def parse_rating(text: str) -> Rating:
    """The difficulty (rounded into 1-10) and reason; ModelOutputError when none is found."""
    match = _OBJECT.search(text)
    if match is not None:
        data = json_repair.loads(match.group())
        if isinstance(data, dict):
            fields = {str(key).lower(): value for key, value in data.items()}
            value = fields.get("difficulty", fields.get("rating"))
            if isinstance(value, int | float) and not isinstance(value, bool):
                reason = str(fields.get("reason") or "").strip()[:MAX_REASON_CHARS]
                return Rating(_clamped(float(value)), reason)
    prose = _PROSE.search(text)
    if prose is not None:
        return Rating(_clamped(float(prose.group(1))), text.strip()[:MAX_REASON_CHARS])
    raise ModelOutputError("the judge gave no readable difficulty")


def _left_to_rate(
    project_id: int, tag_id: int | None, rerate: bool, since: datetime | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Question.project_id == project_id]
    if tag_id is not None:
        conditions.append(Question.tag_id.in_(subtree_ids_query(tag_id)))
    if not rerate:
        conditions.append(Question.difficulty.is_(None))
    elif since is not None:
        conditions.append(or_(Question.rated_at.is_(None), Question.rated_at < since))
    return conditions


def create_rate_task(
    session: Session,
    project: Project,
    *,
    model: str | None,
    tag_id: int | None = None,
    rerate: bool = False,
    no_cache: bool = False,
    max_cost: float | None = None,
) -> Task:
    """A queued task that rates the unrated questions (of a subtree), or every one with
    ``rerate``. Run it with the task runner (kind ``rate``)."""
    alias = get_endpoint(session, judge_alias(project, model)).alias
    if tag_id is not None:
        tag_id = tag_in_project(session, project, tag_id).id
    planned = session.scalar(
        select(func.count(Question.id)).where(*_left_to_rate(project.id, tag_id, rerate, None))
    )
    params: dict[str, Any] = {"model": alias, "tag_id": tag_id}
    if rerate:
        params[RERATE_PARAM] = True
    task = Task(
        project_id=project.id,
        kind=TaskKind.RATE.value,
        params=params,
        status=TaskStatus.QUEUED.value,
        counters=initial_counters({STAGE: planned or 0}),
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
    conditions: list[ColumnElement[bool]]


class RateRun(ItemRun):
    """One run of a rate task in this process; the task machinery is the shared one."""

    setup: _Setup | None = None

    def new_progress(self) -> StageProgress:
        return StageProgress([STAGE])

    def prepare(self) -> None:
        with self.store.session() as session:
            task = self.claim(session, TaskKind.RATE)
            project = session.get(Project, task.project_id)
            assert project is not None
            rerate = bool(task.params.get(RERATE_PARAM))
            tag_id = task.params.get("tag_id")
            conditions = _left_to_rate(project.id, tag_id, rerate, task.created_at)
            self.use_cache = self.use_cache and reads_cache(task.params)
            endpoint = endpoint_config(get_endpoint(session, task.params["model"]), self.settings)
            remaining = session.scalar(select(func.count(Question.id)).where(*conditions)) or 0
            self.progress.load(task.counters or {})
            counts = self.progress.stage(STAGE)
            counts.planned, counts.failed, counts.skipped = counts.done + remaining, 0, 0
            task.counters = self.counters()
            self.event(f"started: {remaining} questions to rate")
            self.limits, self.project_id = LimitSettings.from_project(project), project.id
            self.setup = _Setup(
                project=project,
                endpoint=endpoint,
                template=get_prompt(session, project, "difficulty").template,
                conditions=conditions,
            )

    def failure_event(self, failed: int) -> tuple[str, str]:
        return f"{failed} questions failed (run again to retry)", "warning"

    async def _questions(self, setup: _Setup) -> AsyncIterator[tuple[int, str, str]]:
        """(id, text, tag path) of the questions left, page by page (keyset)."""
        after = 0
        while True:
            with self.store.session() as session:
                paths = TagPaths(session, setup.project.id)
                page = [
                    (question_id, text, paths.path(tag_id))
                    for question_id, text, tag_id in session.execute(
                        select(Question.id, Question.text, Question.tag_id)
                        .where(*setup.conditions, Question.id > after)
                        .order_by(Question.id)
                        .limit(PAGE_SIZE)
                    )
                ]
            for item in page:
                yield item
            if len(page) < PAGE_SIZE:
                return
            after = page[-1][0]

    async def _rate(self, gateway: Gateway, setup: _Setup, item: tuple[int, str, str]) -> None:
        question_id, text, path = item
        prompt = render(setup.template, question=text, path=path, topic=setup.project.topic)
        messages = [{"role": "user", "content": prompt}]
        error, rating = "no readable difficulty", None
        for attempt in range(PARSE_ATTEMPTS):
            try:
                result = await gateway.chat(
                    setup.endpoint,
                    messages,
                    purpose="difficulty",
                    task_id=self.task_id,
                    attempt=attempt,
                )
                rating = parse_rating(result.content)
                break
            except ModelCallError as exc:  # ModelOutputError included: ask again
                error = str(exc)
                if exc.status is not None:
                    break
        if rating is None:
            reason = f"question {question_id}: {error}"
            self.progress.add_failed(STAGE, 1, reason)
            self.event(reason, "error")
            return
        with self.store.session() as session:
            session.execute(
                update(Question)
                .where(Question.id == question_id)
                .values(
                    difficulty=rating.difficulty,
                    difficulty_reason=rating.reason or None,
                    rated_at=utcnow(),
                )
            )
        self.progress.add_done(STAGE)

    def items(self) -> AsyncIterator[tuple[int, str, str]]:
        assert self.setup is not None, "prepare() first"
        return self._questions(self.setup)

    async def handle(self, gateway: Gateway, item: Any) -> None:
        assert self.setup is not None, "prepare() first"
        await self._rate(gateway, self.setup, item)


def difficulty_counts(session: Session, project_id: int) -> dict[str, int]:
    """How many questions have each difficulty (1-10), and how many are unrated."""
    counts = {str(level): 0 for level in range(LOWEST, HIGHEST + 1)}
    counts["unrated"] = 0
    for level, count in session.execute(
        select(Question.difficulty, func.count(Question.id))
        .where(Question.project_id == project_id)
        .group_by(Question.difficulty)
    ):
        counts["unrated" if level is None else str(level)] += count
    return counts


RATE_KIND = TaskKindSpec(TaskKind.RATE.value, RATE_STAGES, RateRun)
