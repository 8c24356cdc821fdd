"""AI scoring of whole conversations: a judge model grades the teacher's replies of each
complete conversation 0-5, with its scenario and roles, as single records are graded.

By default only unscored conversations are judged, so running it again scores what is left;
a verdict already paid for is answered from the gateway's response cache.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import update

from distillset.config import Settings
from distillset.domain import ModelCallError
from distillset.llm import EndpointConfig, Gateway, LimitSettings, open_gateway
from distillset.projects.conversation_setting import MultiTurnSetting
from distillset.projects.endpoints import endpoint_config, get_endpoint
from distillset.prompts import empty_list_word, get_prompt, render
from distillset.review.conversations import (
    ConversationRecord,
    Turn,
    list_conversations,
    transcript,
)
from distillset.review.editing import score_values
from distillset.review.filters import RecordFilter
from distillset.review.judge import PARSE_ATTEMPTS, judge_alias, verdict_format
from distillset.review.verdict import Verdict, parse_verdict
from distillset.store import Conversation, Project, Store

MAX_JUDGED = 100_000


@dataclass
class JudgeOutcome:
    judged: int = 0
    failed: dict[int, str] = field(default_factory=dict)  # conversation id -> why

    def as_dict(self) -> dict[str, object]:
        return {"judged": self.judged, "failed": self.failed}


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


async def _verdict(
    gateway: Gateway, endpoint: EndpointConfig, prompt: str
) -> tuple[Verdict | None, str]:
    error = "no readable score"
    for attempt in range(PARSE_ATTEMPTS):
        try:
            result = await gateway.chat(
                endpoint,
                [{"role": "user", "content": prompt}],
                purpose="judge",
                attempt=attempt,
                response_format=verdict_format(endpoint.structured_output),
            )
            return parse_verdict(result.content), ""
        except ModelCallError as exc:
            error = str(exc)
            if exc.status is not None:
                break
    return None, error


async def judge_conversations(
    store: Store,
    settings: Settings,
    project_id: int,
    *,
    model: str | None = None,
    ids: list[int] | None = None,
    rescore: bool = False,
) -> JudgeOutcome:
    """Score the project's complete conversations (the given ones, else every unscored one;
    ``rescore`` scores scored ones again) with the judge model (default: the answer model)."""
    with store.session() as session:
        project = session.get(Project, project_id)
        assert project is not None
        endpoint = endpoint_config(get_endpoint(session, judge_alias(project, model)), settings)
        template = get_prompt(session, project, "judge_conversation").template
        limits = LimitSettings.from_project(project)
        chosen = RecordFilter(ids=tuple(ids or ()), scored=None if rescore or ids else False)
        records = list_conversations(session, project, chosen, complete=True, limit=MAX_JUDGED)
        topic, language = project.topic, project.language
    outcome = JudgeOutcome()
    async with open_gateway(store, limits, project_id=project_id) as gateway:

        async def judge(record: ConversationRecord) -> None:
            prompt = judge_prompt(template, topic, language, record)
            verdict, error = await _verdict(gateway, endpoint, prompt)
            if verdict is None:
                outcome.failed[record.id] = error
                return
            with store.session() as session:
                session.execute(
                    update(Conversation)
                    .where(Conversation.id == record.id)
                    .values(score_values(verdict.score, verdict.reason or None))
                )
            outcome.judged += 1

        await asyncio.gather(*(judge(record) for record in records))
    return outcome
