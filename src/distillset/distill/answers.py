"""Answering a question with the answer model: reasoning and answer stored apart."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from distillset.distill.context import DistillContext
from distillset.distill.tags import full_path
from distillset.domain import ModelCallError, NotFoundError
from distillset.llm import ChatResult, Gateway
from distillset.prompts import render
from distillset.services.tags import tag_path
from distillset.store import Answer, Question, Store, Tag
from distillset.store.models import utcnow

MAX_ERROR_CHARS = 2_000


@dataclass
class AnswerOutcome:
    question_id: int
    answer_id: int | None = None
    skipped: bool = False  # it was already answered
    error: str | None = None
    call: ChatResult | None = None


def answer_messages(
    store: Store, context: DistillContext, question_id: int
) -> list[dict[str, str]]:
    template = context.templates["answer"]
    with store.session() as session:
        question = session.get(Question, question_id)
        if question is None or question.project_id != context.project_id:
            raise NotFoundError(f"no question {question_id} in project {context.project_name!r}")
        path = context.topic
        if "{path}" in template and question.tag_id is not None:
            tag = session.get(Tag, question.tag_id)
            if tag is not None:
                path = full_path(context, tag_path(session, tag).labels)
        text = question.text
    messages = []
    if context.answer_system_prompt:
        messages.append({"role": "system", "content": context.answer_system_prompt})
    content = render(template, question=text, path=path, topic=context.topic)
    messages.append({"role": "user", "content": content})
    return messages


def is_answered(store: Store, question_id: int) -> bool:
    with store.session() as session:
        return (
            session.scalar(select(Answer.id).where(Answer.question_id == question_id)) is not None
        )


def _record_failure(store: Store, question_id: int, error: str) -> None:
    with store.session() as session:
        question = session.get(Question, question_id)
        if question is not None:
            question.last_error = error[:MAX_ERROR_CHARS]


def _store_answer(
    store: Store, context: DistillContext, question_id: int, result: ChatResult
) -> int | None:
    """Insert the first answer of a question; None when another writer got there first."""
    try:
        with store.session() as session:
            answer = Answer(
                question_id=question_id,
                project_id=context.project_id,
                variant=0,
                answer=result.content.strip(),
                reasoning=result.reasoning,
                model=result.model or context.answer_model.model,
                finish_reason=result.finish_reason,
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
                reasoning_tokens=result.reasoning_tokens,
                latency_ms=result.latency_ms,
                created_at=utcnow(),
            )
            session.add(answer)
            question = session.get(Question, question_id)
            if question is not None:
                question.last_error = None
            session.flush()
            return answer.id
    except IntegrityError:
        return None


async def answer_question(
    store: Store,
    gateway: Gateway,
    context: DistillContext,
    question_id: int,
    *,
    task_id: int | None = None,
) -> AnswerOutcome:
    """Answer one unanswered question; a failure is recorded on the question, never stored."""
    outcome = AnswerOutcome(question_id)
    if is_answered(store, question_id):
        outcome.skipped = True
        return outcome
    endpoint = context.answer_model
    messages = answer_messages(store, context, question_id)
    try:
        result = await gateway.chat(endpoint, messages, purpose="answer", task_id=task_id)
    except ModelCallError as exc:
        outcome.error = str(exc) or type(exc).__name__
        _record_failure(store, question_id, outcome.error)
        return outcome
    outcome.call = result
    if not result.content.strip():
        outcome.error = "the model returned an empty answer"
        _record_failure(store, question_id, outcome.error)
        return outcome
    outcome.answer_id = _store_answer(store, context, question_id, result)
    outcome.skipped = outcome.answer_id is None
    return outcome
