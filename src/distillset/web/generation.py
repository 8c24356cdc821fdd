"""Generation started from a page or an API call and awaited there (tags, questions, one answer).

The model calls go through one gateway per request (the gateways of a project share its
limiter); the steps themselves are the distill package's, as for the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from distillset.config import Settings
from distillset.distill.answers import AnswerOutcome, answer_question
from distillset.distill.context import DistillContext, load_context
from distillset.distill.questions import generate_questions
from distillset.distill.tags import generate_tags
from distillset.domain import ModelCallError
from distillset.llm import EndpointConfig, Gateway, LimitSettings
from distillset.services.endpoints import get_endpoint
from distillset.store import Question, Store, Tag
from distillset.web.lookup import optional_tag, project_by_id, question_in_project, tag_in_project


@dataclass
class Generated:
    """What a generation created, for the preview, and why it fell short if it did."""

    created: list[int] = field(default_factory=list)
    wanted: int = 0
    error: str | None = None


def _context(
    store: Store, settings: Settings, project_id: int, *, question: bool = False
) -> DistillContext:
    with store.session() as session:
        project = project_by_id(session, project_id)
        return load_context(
            session, project, settings, need_question_model=question, need_answer_model=not question
        )


async def add_sub_tags(
    store: Store, settings: Settings, project_id: int, parent_id: int | None, count: int
) -> Generated:
    """Create ``count`` more children of the parent (top level when None)."""
    with store.session() as session:
        project = project_by_id(session, project_id)
        optional_tag(session, project, parent_id)
        existing = session.scalar(
            select(func.count(Tag.id)).where(
                Tag.project_id == project_id,
                Tag.parent_id.is_(None) if parent_id is None else Tag.parent_id == parent_id,
            )
        )
    context = _context(store, settings, project_id, question=True)
    async with Gateway(store, context.limits, project_id=project_id) as gateway:
        outcome = await generate_tags(
            store, gateway, context, parent_id, int(existing or 0) + count
        )
    return Generated(outcome.created, outcome.wanted, outcome.error)


async def add_questions(
    store: Store, settings: Settings, project_id: int, tag_id: int, count: int
) -> Generated:
    """Create ``count`` more questions for the tag."""
    with store.session() as session:
        tag_in_project(session, project_by_id(session, project_id), tag_id)
        existing = session.scalar(select(func.count(Question.id)).where(Question.tag_id == tag_id))
    context = _context(store, settings, project_id, question=True)
    async with Gateway(store, context.limits, project_id=project_id) as gateway:
        outcome = await generate_questions(
            store, gateway, context, tag_id, int(existing or 0) + count
        )
    return Generated(outcome.created, outcome.wanted, outcome.error)


async def answer_one(
    store: Store, settings: Settings, project_id: int, question_id: int
) -> AnswerOutcome:
    with store.session() as session:
        question_in_project(session, project_by_id(session, project_id), question_id)
    context = _context(store, settings, project_id)
    async with Gateway(store, context.limits, project_id=project_id) as gateway:
        return await answer_question(store, gateway, context, question_id)


TEST_MESSAGES = [{"role": "user", "content": "Reply with the single word OK."}]


async def test_endpoint(store: Store, settings: Settings, alias: str) -> dict[str, object]:
    """One small live request: does the endpoint answer with these settings and key?"""
    with store.session() as session:
        endpoint = EndpointConfig.from_endpoint(get_endpoint(session, alias), settings)
    # Few retries and a short timeout: a test should answer quickly either way.
    limits = LimitSettings(max_concurrency=1, max_retries=1, request_timeout=30.0)
    async with Gateway(store, limits, project_id=None, use_cache=False) as gateway:
        try:
            result = await gateway.chat(endpoint, TEST_MESSAGES, purpose="test")
        except ModelCallError as exc:
            return {"ok": False, "alias": alias, "error": str(exc), "status": exc.status}
    return {
        "ok": True,
        "alias": alias,
        "model": result.model,
        "latency_ms": round(result.latency_ms, 1),
        "reply": result.content[:200],
    }
