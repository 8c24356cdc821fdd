"""Generation started from a page or an API call and awaited there (tags, questions, one answer).

The model calls go through one gateway per request (the gateways of a project share its
limiter); the steps themselves are the distill package's, as for the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.distill.answers import AnswerOutcome, answer_messages, answer_question
from distillset.distill.context import DistillContext, load_context
from distillset.distill.jobs import more_than_existing
from distillset.distill.questions import generate_questions
from distillset.distill.tags import full_path, generate_tags
from distillset.domain import ModelCallError
from distillset.llm import ChatResult, EndpointConfig, Gateway, LimitSettings
from distillset.services.endpoints import get_endpoint
from distillset.services.tags import tag_path
from distillset.store import Answer, Question, Store, Tag
from distillset.store.models import utcnow
from distillset.web.jobs import refuse_if_other_process_busy
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


def project_gateway(store: Store, context: DistillContext, *, use_cache: bool = True) -> Gateway:
    # Keyed by store and project, so it shares the limiter of the server's task runs.
    return Gateway(store, context.limits, project_id=context.project_id, use_cache=use_cache)


def _checked(session: Session, settings: Settings, project_id: int) -> None:
    refuse_if_other_process_busy(session, settings, project_by_id(session, project_id).id)


async def add_sub_tags(
    store: Store, settings: Settings, project_id: int, parent_id: int | None, count: int
) -> Generated:
    """Create ``count`` more children of the parent (top level when None)."""
    with store.session() as session:
        _checked(session, settings, project_id)
        parent = optional_tag(session, project_by_id(session, project_id), parent_id)
        wanted = more_than_existing(
            session, "tags", parent.id if parent else None, count, project_id=project_id
        )
    context = _context(store, settings, project_id, question=True)
    async with project_gateway(store, context) as gateway:
        outcome = await generate_tags(store, gateway, context, parent_id, wanted)
    return Generated(outcome.created, outcome.wanted, outcome.error)


async def add_questions(
    store: Store, settings: Settings, project_id: int, tag_id: int, count: int
) -> Generated:
    """Create ``count`` more questions for the tag."""
    with store.session() as session:
        _checked(session, settings, project_id)
        tag_in_project(session, project_by_id(session, project_id), tag_id)
        wanted = more_than_existing(session, "questions", tag_id, count)
    context = _context(store, settings, project_id, question=True)
    async with project_gateway(store, context) as gateway:
        outcome = await generate_questions(store, gateway, context, tag_id, wanted)
    return Generated(outcome.created, outcome.wanted, outcome.error)


async def answer_one(
    store: Store, settings: Settings, project_id: int, question_id: int, *, fresh: bool = False
) -> AnswerOutcome:
    """Answer one question; ``fresh`` asks the model for a new sample instead of the stored
    reply, and replaces the answer of an answered question with it."""
    with store.session() as session:
        _checked(session, settings, project_id)
        question_in_project(session, project_by_id(session, project_id), question_id)
        answer_id = session.scalar(
            select(Answer.id).where(Answer.question_id == question_id).order_by(Answer.variant)
        )
    context = _context(store, settings, project_id)
    async with project_gateway(store, context, use_cache=not fresh) as gateway:
        if fresh and answer_id is not None:
            return await _resample(store, gateway, context, question_id, answer_id)
        return await answer_question(store, gateway, context, question_id)


def _question_messages(
    store: Store, context: DistillContext, question_id: int
) -> list[dict[str, str]]:
    with store.session() as session:
        question = session.get(Question, question_id)
        assert question is not None
        tag = session.get(Tag, question.tag_id) if question.tag_id is not None else None
        path = full_path(context, tag_path(session, tag).labels) if tag else context.topic
        return answer_messages(context, question.text, path)


async def _resample(
    store: Store, gateway: Gateway, context: DistillContext, question_id: int, answer_id: int
) -> AnswerOutcome:
    """A new sample for an answered question; the old answer stays if the call fails."""
    outcome = AnswerOutcome(question_id)
    messages = _question_messages(store, context, question_id)
    try:
        result = await gateway.chat(context.answer_model, messages, purpose="answer")
    except ModelCallError as exc:
        outcome.error = str(exc) or type(exc).__name__
        return outcome
    outcome.call = result
    if not result.content.strip():
        outcome.error = "the model returned an empty answer"
        return outcome
    with store.session() as session:
        session.execute(
            update(Answer).where(Answer.id == answer_id).values(**_sample_fields(context, result))
        )
    outcome.answer_id = answer_id
    return outcome


def _sample_fields(context: DistillContext, result: ChatResult) -> dict[str, object]:
    # A confirmation or a score judged the old text, so the new one starts unreviewed.
    return {
        "answer": result.content.strip(),
        "reasoning": result.reasoning,
        "model": result.model or context.answer_model.model,
        "finish_reason": result.finish_reason,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "reasoning_tokens": result.reasoning_tokens,
        "latency_ms": result.latency_ms,
        "confirmed": False,
        "score": None,
        "score_reason": None,
        "created_at": utcnow(),
    }


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
