"""Building the jobs the interfaces offer: plan, refuse or create the task row.

Called by id, never by label: the project and its tags are named by their ids (the CLI and
the Python facade resolve names and paths in ``services.resolve``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distillset import questions as question_listing
from distillset.auto.plan import (
    QUESTIONS_RANGE,
    TAGS_RANGE,
    CallSize,
    JobSpec,
    Plan,
    answers_spec,
    auto_spec,
    check_confirmed,
    estimate_cost,
    plan_job,
    questions_spec,
    tags_spec,
)
from distillset.auto.run import create_task, resumable_task
from distillset.config import Settings
from distillset.domain import InvalidInputError, SettingRequired, TaskKind
from distillset.generation.context import load_context
from distillset.projects.endpoints import get_endpoint
from distillset.projects.lifecycle import get_project
from distillset.runs.rows import process_owner, refuse_if_blocked
from distillset.runs.runner import ask_fresh, set_budget
from distillset.runs.usage import observed_tokens
from distillset.store import Project, Question, Tag, utcnow
from distillset.tags.tree import tag_in_project


@dataclass
class PlannedJob:
    task_id: int
    kind: TaskKind
    project: str
    project_id: int
    plan: Plan
    # The job continues an earlier task that was interrupted (its process was killed).
    resumed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "kind": self.kind.value,
            "project": self.project,
            "resumed": self.resumed,
        } | {"plan": self.plan.as_dict()}


def _tag_in(session: Session, project: Project, tag_id: int) -> int:
    """The id of a tag of the project (NotFoundError for another project's or none)."""
    return tag_in_project(session, project, tag_id).id


def more_than_existing(
    session: Session,
    kind: Literal["tags", "questions"],
    tag_id: int | None,
    n: int,
    *,
    project_id: int | None = None,
) -> int:
    """The top-up target that asks for ``n`` more children (``kind="tags"``) or questions
    than the tag has now: existing + n. Top-level tags (``tag_id=None``) need
    ``project_id``. The target obeys the same 1-100 bound as a ``--count``."""
    low, high = TAGS_RANGE if kind == "tags" else QUESTIONS_RANGE
    if not isinstance(n, int) or not low <= n <= high:
        raise InvalidInputError(f"add must be between {low} and {high}, got {n}")
    if kind == "questions":
        if tag_id is None:
            raise InvalidInputError("questions belong to a tag; name one")
        query = select(func.count(Question.id)).where(Question.tag_id == tag_id)
    elif tag_id is not None:
        query = select(func.count(Tag.id)).where(Tag.parent_id == tag_id)
    elif project_id is not None:
        query = select(func.count(Tag.id)).where(
            Tag.project_id == project_id, Tag.parent_id.is_(None)
        )
    else:
        raise ValueError("top-level tags are counted per project: pass project_id")
    existing = session.scalar(query) or 0
    if existing + n > high:
        raise InvalidInputError(
            f"the tag has {existing} {kind}; {n} more would make {existing + n}, "
            f"above the limit of {high}"
        )
    return existing + n


def _prices(endpoint: Any, batch: bool = False) -> tuple[float | None, float | None] | None:
    """An endpoint's prices per million tokens (in, out); less its discount in a batch."""
    if endpoint is None:
        return None
    share = 1.0 - (endpoint.batch_discount or 0.0) if batch else 1.0
    prices = (endpoint.price_input_per_m, endpoint.price_output_per_m)
    return tuple(None if price is None else price * share for price in prices)  # type: ignore[return-value]


def _plan(session: Session, project: Project, settings: Settings, spec: JobSpec) -> Plan:
    """The job's plan with its estimated cost; a job whose model is unset is refused (the
    preview and the start refuse the same)."""
    needs_questions = spec.levels > 0 or spec.questions_per_leaf > 0
    if spec.embeddings is not None:
        get_endpoint(session, spec.embeddings)  # an unknown alias is refused now
    context = load_context(
        session,
        project,
        settings,
        need_question_model=needs_questions,
        need_answer_model=spec.answer,
        need_user_model=spec.conversations,
    )
    plan, _ready = plan_job(session, project.id, spec)
    endpoints = {
        "tags": context.question_endpoint,
        "questions": context.question_endpoint,
        "answer": context.answer_endpoint,
        "conversation": context.answer_endpoint,
        "follow_up": context.user_endpoint,
    }
    prices = {
        purpose: _prices(endpoint, batch=spec.batch_answers and purpose == "answer")
        for purpose, endpoint in endpoints.items()
    }
    sizes = {
        purpose: CallSize(*observed[:2], observed[2])
        for purpose, endpoint in endpoints.items()
        if endpoint is not None
        and (observed := observed_tokens(session, endpoint.alias, purpose)) is not None
    }
    plan.estimated_cost = estimate_cost(plan, prices, sizes)
    return plan


def _create(
    session: Session,
    project: Project,
    settings: Settings,
    kind: TaskKind,
    spec: JobSpec,
    *,
    no_cache: bool = False,
    resume_interrupted: bool = False,
    confirm_large: bool = True,
    max_cost: float | None = None,
) -> PlannedJob:
    """Plan the job and create its task, or pick up the interrupted task of the same job
    (``resume_interrupted``). A job its claim would refuse is refused before any row exists,
    and so is a large plan that was not confirmed (PlanNeedsConfirmation)."""
    # Refuse a job whose model is unset, or that another task blocks, before any task row.
    plan = _plan(session, project, settings, spec)
    refuse_if_blocked(session, settings, project.id, kind, process_owner(), spec.scope)
    check_confirmed(plan, confirm_large)
    earlier = resumable_task(session, settings, project, kind, spec) if resume_interrupted else None
    task = earlier or create_task(session, project, kind, spec, plan)
    if no_cache:
        ask_fresh(task)
    set_budget(task, max_cost)
    return PlannedJob(task.id, kind, project.name, project.id, plan, resumed=earlier is not None)


def _topic_for_auto(session: Session, project: Project, topic: str | None) -> bool:
    """Whether an auto job's --topic must become the project's topic first (an empty tree).

    A topic only changes prompt text: on an existing tree another topic would plan nothing
    new and mislead the prompts, so it is refused there."""
    if topic is None or topic == project.topic:
        return False
    has_tags = session.scalar(select(Tag.id).where(Tag.project_id == project.id).limit(1))
    if has_tags is not None:
        raise SettingRequired(
            f"project {project.name!r} already has a tree under the topic {project.topic!r}; "
            f"the topic {topic!r} would not change what is planned. Change the project's "
            "topic, or keep this one",
            setting="topic",
            cli_fix=f"`distillset project set {project.name!r} --topic {topic!r}`, or leave "
            "--topic out",
        )
    return True


def _count_target(
    session: Session,
    kind: Literal["tags", "questions"],
    tag_id: int | None,
    project_id: int,
    count: int | None,
    add: int | None,
) -> int:
    """A top-up target from exactly one of ``count`` (the total) and ``add`` (n more)."""
    if (count is None) == (add is None):
        raise InvalidInputError("give either --count (the total wanted) or --add (how many more)")
    if add is not None:
        return more_than_existing(session, kind, tag_id, add, project_id=project_id)
    assert count is not None
    return count


def preview_auto_job(
    session: Session,
    settings: Settings,
    project_id: int,
    *,
    levels: int = 2,
    tags: int = 10,
    questions: int = 10,
    topic: str | None = None,
    dataset_type: str = "single",
    samples: int = 1,
    temperature: float | None = None,
    batch_answers: bool = False,
) -> Plan:
    """The plan of an automatic distillation, without creating a task; what
    ``create_auto_job`` refuses for the job itself (a range, the topic, an unset model) is
    refused here too. ``batch_answers``: the answers priced with the batch discount, as the
    job would be."""
    spec = auto_spec(
        levels=levels,
        tags=tags,
        questions=questions,
        topic=topic,
        dataset_type=dataset_type,
        samples=samples,
        temperature=temperature,
    )
    spec = replace(spec, batch_answers=batch_answers)
    project = get_project(session, project_id)
    _topic_for_auto(session, project, spec.topic)
    return _plan(session, project, settings, spec)


def create_auto_job(
    session: Session,
    settings: Settings,
    project_id: int,
    *,
    levels: int = 2,
    tags: int = 10,
    questions: int = 10,
    topic: str | None = None,
    no_cache: bool = False,
    max_cost: float | None = None,
    confirm_large: bool = False,
    dataset_type: str = "single",
    batch_answers: bool = False,
    samples: int = 1,
    temperature: float | None = None,
    semantic_dedup: float | None = None,
    embeddings: str | None = None,
) -> PlannedJob:
    """An automatic distillation; a --topic other than the project's becomes its topic on
    an empty tree (so prompts and resumes agree) and is refused on an existing one. The
    same job run again after its process was killed resumes the interrupted task. A large
    plan needs ``confirm_large`` (see ``Plan.why_confirm``). ``dataset_type``: single
    answers, multi-turn conversations, or both; ``batch_answers`` sends the answers through
    the answer model's batch interface as questions accumulate; ``samples`` answers each
    question that many times (best-of-N), at ``temperature`` if given."""
    spec = auto_spec(
        levels=levels,
        tags=tags,
        questions=questions,
        topic=topic,
        dataset_type=dataset_type,
        samples=samples,
        temperature=temperature,
        semantic_dedup=semantic_dedup,
        embeddings=embeddings,
    )
    spec = replace(spec, batch_answers=batch_answers)
    project = get_project(session, project_id)
    if _topic_for_auto(session, project, spec.topic):
        project.topic = spec.topic or project.topic
        session.flush()
    return _create(
        session,
        project,
        settings,
        TaskKind.AUTO_DISTILL,
        spec,
        max_cost=max_cost,
        no_cache=no_cache,
        resume_interrupted=True,
        confirm_large=confirm_large,
    )


def create_tags_job(
    session: Session,
    settings: Settings,
    project_id: int,
    *,
    parent_id: int | None,
    count: int | None = None,
    add: int | None = None,
    no_cache: bool = False,
    max_cost: float | None = None,
) -> PlannedJob:
    """Top a tag's (or, with ``parent_id`` None, the topic's) children up to ``count``, or
    to ``add`` more than now."""
    project = get_project(session, project_id)
    if parent_id is not None:
        parent_id = _tag_in(session, project, parent_id)
    target = _count_target(session, "tags", parent_id, project.id, count, add)
    spec = tags_spec(parent_id, target)
    return _create(
        session, project, settings, TaskKind.TAGS, spec, max_cost=max_cost, no_cache=no_cache
    )


def create_questions_job(
    session: Session,
    settings: Settings,
    project_id: int,
    *,
    tag_id: int,
    count: int | None = None,
    add: int | None = None,
    no_cache: bool = False,
    max_cost: float | None = None,
    semantic_dedup: float | None = None,
    embeddings: str | None = None,
) -> PlannedJob:
    """Top a tag's questions up to ``count``, or to ``add`` more than it has now; with
    ``semantic_dedup`` a question that close in meaning to one of the project's (by the
    ``embeddings`` endpoint) is dropped and another asked for."""
    project = get_project(session, project_id)
    tag_id = _tag_in(session, project, tag_id)
    target = _count_target(session, "questions", tag_id, project.id, count, add)
    spec = questions_spec(tag_id, target, semantic_dedup=semantic_dedup, embeddings=embeddings)
    return _create(
        session, project, settings, TaskKind.QUESTIONS, spec, max_cost=max_cost, no_cache=no_cache
    )


def create_answers_job(
    session: Session,
    settings: Settings,
    project_id: int,
    *,
    question_ids: list[int] | None = None,
    tag_id: int | None = None,
    no_cache: bool = False,
    max_cost: float | None = None,
    confirm_large: bool = False,
    resample: bool = False,
    dataset_type: str = "single",
    batch: bool = False,
    samples: int = 1,
    temperature: float | None = None,
) -> PlannedJob:
    """Answer the given questions, or every unanswered one of a subtree or of the project
    (a large plan needs ``confirm_large``). ``resample`` replaces the answers of the given
    questions with new samples from the model (never from the response cache); ``batch``
    sends them through the answer model's batch interface. ``samples`` gives each question
    that many records (best-of-N; those it lacks), sampled at ``temperature`` if given, else
    at the answer endpoint's."""
    project = get_project(session, project_id)
    if question_ids:
        found = set(
            session.scalars(
                select(Question.id).where(
                    Question.project_id == project.id, Question.id.in_(question_ids)
                )
            )
        )
        unknown = [qid for qid in question_ids if qid not in found]
        if unknown:
            shown = ", ".join(str(qid) for qid in unknown)
            raise InvalidInputError(f"no question(s) {shown} in project {project.name!r}")
    if tag_id is not None:
        tag_id = _tag_in(session, project, tag_id)
    resample_before = utcnow().isoformat() if resample else None
    spec = answers_spec(
        tag_id=tag_id,
        question_ids=question_ids,
        resample_before=resample_before,
        dataset_type=dataset_type,
        samples=samples,
        temperature=temperature,
    )
    spec = replace(spec, batch_answers=batch)
    return _create(
        session,
        project,
        settings,
        TaskKind.ANSWERS,
        spec,
        max_cost=max_cost,
        no_cache=no_cache or resample,
        confirm_large=confirm_large,
    )


def list_questions(
    session: Session,
    project_id: int,
    *,
    tag_id: int | None = None,
    limit: int | None = None,
    after: int | None = None,
) -> list[dict[str, Any]]:
    """Questions of the project (or of a tag's subtree) in id order after id ``after``,
    with their tag path and whether they are answered, as the CLI and the API list them."""
    project = get_project(session, project_id)
    if tag_id is not None:
        tag_id = _tag_in(session, project, tag_id)
    rows = question_listing.list_questions(
        session, project.id, tag_id=tag_id, subtree=True, after=after, limit=limit, with_paths=True
    )
    return [
        {
            "id": row.id,
            "tag": row.tag_path if row.tag_id is not None else None,
            "question": row.text,
            "origin": row.origin,
            "model": row.model,
            "answered": row.answered,
            "last_error": row.last_error,
        }
        for row in rows
    ]
