"""Generation started from a page or an API call and awaited there (tags, questions, one answer).

The model calls go through one gateway per request (the gateways of a project share its
limiter); the steps themselves are the distill package's, as for the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.answers import AnswerOutcome, answer_question, resample_answer
from distillset.auto import more_than_existing
from distillset.config import Settings
from distillset.domain import ModelCallError
from distillset.generation import DistillContext, TargetGone, load_context
from distillset.llm import Gateway, open_gateway, probe_endpoint
from distillset.projects import endpoint_config, get_endpoint
from distillset.questions import generate_questions
from distillset.runs import process_owner, refuse_if_blocked
from distillset.store import Answer, Store
from distillset.tags import generate_tags
from distillset.web.lookup import optional_tag, project_by_id, question_in_project, tag_in_project

# A test should answer quickly either way.


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
    return open_gateway(store, context.limits, project_id=context.project_id, use_cache=use_cache)


def _checked(session: Session, settings: Settings, project_id: int) -> None:
    """Generation awaited in a request follows the rule of task claims: a task running in
    another process shares neither this server's limiter nor its calls on their way, so
    both at once would exceed the project's concurrency and pay twice for answers."""
    project = project_by_id(session, project_id)
    refuse_if_blocked(session, settings, project.id, None, process_owner())


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
            return await resample_answer(store, gateway, context, question_id, answer_id)
        outcome = await answer_question(store, gateway, context, question_id)
    if outcome.gone:  # deleted while it was being answered: the request says so
        raise TargetGone("question", question_id)
    return outcome


async def test_endpoint(store: Store, settings: Settings, alias: str) -> dict[str, object]:
    """The CLI's `model test`: one small live request with these settings and key."""
    with store.session() as session:
        endpoint = endpoint_config(get_endpoint(session, alias), settings)
    try:
        report = await probe_endpoint(store, endpoint)
    except ModelCallError as exc:
        return {"ok": False, "alias": alias, "error": str(exc), "status": exc.status}
    return {"error": report.reply_error, **report.as_dict()}
