"""AI scoring of whole conversations, as a resumable task: a judge model grades the teacher's
replies of each complete conversation 0-5, with its scenario and roles, as the ``judge`` task
grades single records (progress, a budget, cancel and resume are the shared machinery's).

By default the task covers the chosen complete conversations that are *unscored*, so running
it again scores what is left. A *rescore* task (or one given ids) covers scored ones too;
what it has left is those not scored since the task was created, so a resumed rescore never
scores a conversation twice. A verdict already paid for is answered from the response cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.domain import ModelCallError, TaskKind, TaskStatus
from distillset.generation.item_run import ItemRun
from distillset.llm import EndpointConfig, Gateway, LimitSettings
from distillset.projects.conversation_setting import MultiTurnSetting
from distillset.projects.endpoints import endpoint_config, get_endpoint
from distillset.prompts import empty_list_word, get_prompt, render
from distillset.review.conversations import (
    ConversationRecord,
    Turn,
    conversation_conditions,
    count_conversations,
    list_conversations,
    transcript,
)
from distillset.review.editing import score_values
from distillset.review.filters import RecordFilter
from distillset.review.judge import (
    PARSE_ATTEMPTS,
    RESCORE_PARAM,
    check_judge_filter,
    judge_alias,
    judge_filter,
    verdict_format,
)
from distillset.review.verdict import Verdict, parse_verdict
from distillset.runs.kinds import ProgressCallback, Stage, TaskKindSpec
from distillset.runs.progress import StageProgress, initial_counters
from distillset.runs.runner import ask_fresh, reads_cache, set_budget
from distillset.store import Conversation, Project, Store, TagPaths, Task

STAGE = "judged"
CONVERSATION_JUDGE_STAGES = (Stage(STAGE, "Conversations judged"),)
PAGE_SIZE = 200


def judge_prompt(template: str, topic: str, language: str, record: ConversationRecord) -> str:
    """The judge's request for one conversation: the whole exchange with its scenario."""
    setting = MultiTurnSetting.from_dict(record.setting)
    turns = [Turn(turn.role, turn.content) for turn in record.turns]
    return render(
        template,
        conversation=transcript(turns),
        path=record.tag_path,
        topic=topic,
        scenario=setting.scenario or empty_list_word(language),
        user_role=setting.shown_user_role,
        assistant_role=setting.shown_assistant_role,
    )


def create_conversation_judge_task(
    session: Session,
    project: Project,
    *,
    model: str | None = None,
    record_filter: RecordFilter | None = None,
    rescore: bool = False,
    no_cache: bool = False,
    max_cost: float | None = None,
) -> Task:
    """A queued task judging the filter's complete conversations: the unscored ones, or all
    of them when it ``rescore``s or names ids (score filters allowed then). Run it with
    ``distillset.kinds.run_task``."""
    chosen = record_filter or RecordFilter()
    rescore = rescore or bool(chosen.ids)
    check_judge_filter(chosen, rescore)
    conversation_conditions(session, project, chosen)  # refuses single-record conditions
    alias = get_endpoint(session, judge_alias(project, model)).alias
    left = judge_filter(chosen, rescore=rescore)
    planned = count_conversations(session, project, left, complete=True)
    params: dict[str, Any] = {"model": alias, "filter": chosen.as_dict()}
    if rescore:
        params[RESCORE_PARAM] = True
    task = Task(
        project_id=project.id,
        kind=TaskKind.JUDGE_CONVERSATIONS.value,
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


@dataclass
class _Setup:
    project: Project
    endpoint: EndpointConfig
    template: str
    record_filter: RecordFilter  # what the task has left (judge_filter applied)


class ConversationJudgeRun(ItemRun):
    """One run of a conversation judge task in this process."""

    setup: _Setup | None = None

    def new_progress(self) -> StageProgress:
        return StageProgress([STAGE])

    def prepare(self) -> None:
        with self.store.session() as session:
            task = self.claim(session, TaskKind.JUDGE_CONVERSATIONS)
            project = session.get(Project, task.project_id)
            assert project is not None
            chosen = RecordFilter.from_dict(dict(task.params.get("filter") or {}))
            rescore = bool(task.params.get(RESCORE_PARAM))
            record_filter = judge_filter(chosen, rescore=rescore, since=task.created_at)
            self.use_cache = self.use_cache and reads_cache(task.params)
            endpoint = endpoint_config(get_endpoint(session, task.params["model"]), self.settings)
            remaining = count_conversations(session, project, record_filter, complete=True)
            # Earlier runs' scores stay done; their failures are open work again.
            self.progress.load(task.counters or {})
            counts = self.progress.stage(STAGE)
            counts.planned, counts.failed, counts.skipped = counts.done + remaining, 0, 0
            task.counters = self.progress.as_dict()
            self.event(f"started: {remaining} conversations to score")
            self.limits, self.project_id = LimitSettings.from_project(project), project.id
            self.setup = _Setup(
                project=project,
                endpoint=endpoint,
                template=get_prompt(session, project, "judge_conversation").template,
                record_filter=record_filter,
            )

    def failure_event(self, failed: int) -> tuple[str, str]:
        return f"{failed} conversations failed (run again to retry)", "warning"

    async def _conversations(self, setup: _Setup) -> AsyncIterator[ConversationRecord]:
        """The complete conversations left to score, page by page, in short sessions."""
        after: int | None = None
        while True:
            with self.store.session() as session:
                page = list_conversations(
                    session,
                    setup.project,
                    setup.record_filter,
                    complete=True,
                    after=after,
                    limit=PAGE_SIZE,
                    paths=TagPaths(session, setup.project.id),
                )
            for record in page:
                yield record
            if len(page) < PAGE_SIZE:
                return
            after = page[-1].id

    async def _verdict(self, gateway: Gateway, setup: _Setup, prompt: str) -> Verdict | str:
        """The verdict, or why there is none."""
        error = "no readable score"
        for attempt in range(PARSE_ATTEMPTS):
            try:
                result = await gateway.chat(
                    setup.endpoint,
                    [{"role": "user", "content": prompt}],
                    purpose="judge",
                    task_id=self.task_id,
                    attempt=attempt,
                    response_format=verdict_format(setup.endpoint.structured_output),
                )
                return parse_verdict(result.content)
            except ModelCallError as exc:  # an unreadable reply included: ask again
                error = str(exc)
                if exc.status is not None:
                    break  # the gateway already retried what HTTP errors deserve
        return error

    async def _judge(self, gateway: Gateway, setup: _Setup, record: ConversationRecord) -> None:
        project = setup.project
        prompt = judge_prompt(setup.template, project.topic, project.language, record)
        verdict = await self._verdict(gateway, setup, prompt)
        counts = self.progress.stage(STAGE)
        if counts.done + counts.failed + counts.skipped >= counts.planned:
            counts.planned += 1  # one completed since the run started: counted, not lost
        if isinstance(verdict, str):
            reason = f"conversation {record.id}: {verdict}"
            self.progress.add_failed(STAGE, 1, reason)
            self.event(reason, "error")
            return
        with self.store.session() as session:
            session.execute(
                update(Conversation)
                .where(Conversation.id == record.id)
                .values(score_values(verdict.score, verdict.reason or None))
            )
        self.progress.add_done(STAGE)

    def items(self) -> AsyncIterator[ConversationRecord]:
        assert self.setup is not None, "prepare() first"
        return self._conversations(self.setup)

    async def handle(self, gateway: Gateway, item: Any) -> None:
        assert self.setup is not None, "prepare() first"
        await self._judge(gateway, self.setup, item)


async def run_conversation_judge_task(
    store: Store,
    settings: Settings,
    task_id: int,
    *,
    cancel_event: asyncio.Event | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Run (or resume) a conversation judge task to its end; returns the task as a dict."""
    run = ConversationJudgeRun(
        store, settings, task_id, cancel_event=cancel_event, on_progress=on_progress
    )
    return await run.run()


CONVERSATION_JUDGE_KIND = TaskKindSpec(
    TaskKind.JUDGE_CONVERSATIONS.value, CONVERSATION_JUDGE_STAGES, ConversationJudgeRun
)
