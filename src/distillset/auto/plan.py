"""What a distillation job will create, computed exactly from its parameters and the tree.

A job builds ``levels`` levels of tags below a root (the topic, or a tag), tops every tag
above the leaf level up to ``tags_per_level`` children, tops every leaf up to
``questions_per_leaf`` questions, and answers the unanswered questions of its leaves. An
answer-only job answers a given list of questions, or every unanswered question of a subtree
or of the project.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from distillset.domain import DATASET_TYPES, ConflictError, InvalidInputError
from distillset.generation.local_embedder import INSTALL_HINT, local_model_problem
from distillset.generation.semantic_guard import check_threshold
from distillset.projects.conversation_setting import multi_turn_setting
from distillset.store import Answer, Conversation, ConversationTurn, Question, Tag
from distillset.tags.tree import MAX_TAG_DEPTH, subtree_ids_query

LEVELS_RANGE = (1, 6)
TAGS_RANGE = (1, 100)
QUESTIONS_RANGE = (1, 100)
# Samples per question (best-of-N): each is a record of its own, numbered by ``variant``.
SAMPLES_RANGE = (1, 16)
TEMPERATURE_RANGE = (0.0, 2.0)

# A plan above either bound starts only once the user confirmed it (CLI --yes, the web's
# confirmation, ``confirm_large`` in the APIs): a typo in a level or a count can plan
# billions of calls.
LARGE_PLAN_CALLS = 10_000
LARGE_PLAN_COST = 10.0


def _check_range(name: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{name} must be between {low} and {high}, got {value}")


@dataclass(frozen=True)
class JobSpec:
    """A job's parameters; stored in the task row as JSON and read back on resume."""

    root_tag_id: int | None = None
    levels: int = 0
    tags_per_level: int = 0
    questions_per_leaf: int = 0
    answer: bool = False
    question_ids: tuple[int, ...] | None = None
    topic: str | None = None
    # Answer the listed questions again: each answer made before this moment (ISO 8601)
    # is replaced by a new sample. A resumed run skips the ones it has replaced already.
    resample_before: str | None = None
    # Best-of-N: answer each question with ``samples`` records (variants 0..N-1), sampled
    # at ``temperature`` for this job (None: the answer endpoint's own).
    samples: int = 1
    temperature: float | None = None
    # Generation-time semantic dedup: a new question whose embedding (from the endpoint
    # ``embeddings``) is this close (cosine) to a question of the project is dropped.
    semantic_dedup: float | None = None
    embeddings: str | None = None
    # single: one answer per question; multi: one conversation; both: one of each.
    dataset_type: str = "single"
    # Answers go through the answer model's batch interface (cheaper, slower).
    batch_answers: bool = False

    @property
    def singles(self) -> bool:
        """The job answers its questions (single-turn records)."""
        return self.answer and self.dataset_type != "multi"

    @property
    def conversations(self) -> bool:
        """The job makes a conversation of each of its questions (multi-turn records)."""
        return self.answer and self.dataset_type != "single"

    @property
    def answer_only(self) -> bool:
        return self.levels == 0 and self.questions_per_leaf == 0 and self.answer

    @property
    def scope(self) -> str | None:
        """The one item the job works on, where it names one (see ``Task.scope``)."""
        if self.answer_only and self.question_ids is not None and len(self.question_ids) == 1:
            return f"question:{self.question_ids[0]}"
        if self.answer:
            return None
        parent = "topic" if self.root_tag_id is None else self.root_tag_id
        if self.levels == 1 and self.questions_per_leaf == 0:
            return f"children:{parent}"
        if self.levels == 0 and self.root_tag_id is not None:
            return f"questions:{parent}"
        return None

    def as_params(self) -> dict[str, Any]:
        data = asdict(self)
        data["question_ids"] = list(self.question_ids) if self.question_ids is not None else None
        return data

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> JobSpec:
        known = {name: params[name] for name in cls.__dataclass_fields__ if name in params}
        if known.get("question_ids") is not None:
            known["question_ids"] = tuple(int(qid) for qid in known["question_ids"])
        return cls(**known)


def check_dataset_type(dataset_type: str) -> str:
    if dataset_type not in DATASET_TYPES:
        raise InvalidInputError(
            f"unknown dataset type {dataset_type!r}: choose {', '.join(DATASET_TYPES)}"
        )
    return dataset_type


def _check_sampling(samples: int, temperature: float | None) -> None:
    _check_range("samples", samples, SAMPLES_RANGE)
    if temperature is None:
        return
    low, high = TEMPERATURE_RANGE
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise InvalidInputError(f"temperature must be a number, got {temperature!r}")
    if not low <= temperature <= high:
        raise InvalidInputError(f"temperature must be between {low} and {high}, got {temperature}")


def semantic_options(threshold: float | None, embeddings: str | None) -> dict[str, Any]:
    """The job's semantic dedup settings, checked: an embeddings endpoint, or else the
    offline model, which must then be installed."""
    if threshold is None:
        if embeddings is not None:
            raise InvalidInputError("--embeddings goes with --semantic-dedup THRESHOLD")
        return {}
    threshold = check_threshold(threshold)
    if not embeddings:
        problem = local_model_problem()
        if problem is not None:
            raise InvalidInputError(f"{problem}: {INSTALL_HINT}")
    return {"semantic_dedup": threshold, "embeddings": embeddings or None}


def auto_spec(
    *,
    levels: int = 2,
    tags: int = 10,
    questions: int = 10,
    topic: str | None = None,
    dataset_type: str = "single",
    samples: int = 1,
    temperature: float | None = None,
    semantic_dedup: float | None = None,
    embeddings: str | None = None,
) -> JobSpec:
    """The automatic-distillation job, validated before anything runs."""
    check_dataset_type(dataset_type)
    _check_range("levels", levels, LEVELS_RANGE)
    _check_range("tags per level", tags, TAGS_RANGE)
    _check_range("questions per leaf", questions, QUESTIONS_RANGE)
    _check_sampling(samples, temperature)
    if topic is not None and not topic.strip():
        raise InvalidInputError("the topic is empty")
    return JobSpec(
        None,
        levels,
        tags,
        questions,
        True,
        None,
        topic.strip() if topic else None,
        dataset_type=dataset_type,
        samples=samples,
        temperature=None if temperature is None else float(temperature),
        **semantic_options(semantic_dedup, embeddings),
    )


def tags_spec(parent_id: int | None, count: int) -> JobSpec:
    _check_range("count", count, TAGS_RANGE)
    return JobSpec(parent_id, 1, count)


def questions_spec(
    tag_id: int,
    count: int,
    *,
    answer: bool = False,
    semantic_dedup: float | None = None,
    embeddings: str | None = None,
) -> JobSpec:
    _check_range("count", count, QUESTIONS_RANGE)
    return JobSpec(tag_id, 0, 0, count, answer, **semantic_options(semantic_dedup, embeddings))


def answers_spec(
    *,
    tag_id: int | None = None,
    question_ids: list[int] | None = None,
    resample_before: str | None = None,
    dataset_type: str = "single",
    samples: int = 1,
    temperature: float | None = None,
) -> JobSpec:
    check_dataset_type(dataset_type)
    ids = tuple(dict.fromkeys(question_ids)) if question_ids else None
    if resample_before is not None and ids is None:
        raise InvalidInputError("a new sample is asked of listed questions only")
    if resample_before is not None and dataset_type != "single":
        raise InvalidInputError("a new sample is asked of single answers only")
    _check_sampling(samples, temperature)
    if resample_before is not None and samples > 1:
        raise InvalidInputError("a new sample replaces one answer: it does not go with samples")
    return JobSpec(
        tag_id,
        0,
        0,
        0,
        True,
        ids,
        resample_before=resample_before,
        samples=samples,
        temperature=None if temperature is None else float(temperature),
        dataset_type=dataset_type,
    )


@dataclass
class Plan:
    tags: int = 0
    leaves: int = 0
    questions: int = 0
    answers: int = 0
    # Multi-turn: the conversations to make or finish, and the turns the models still write
    # (the teacher's and the simulated user's; the question opens each conversation).
    conversations: int = 0
    turns: int = 0
    # Per purpose; a job with conversations adds "conversation" (the teacher's turns) and
    # "follow_up" (the simulated user's).
    calls: dict[str, int] = field(default_factory=lambda: {"tags": 0, "questions": 0, "answer": 0})
    estimated_cost: float | None = None
    # Per purpose, where the call size behind the estimate comes from (observed or default).
    estimate_basis: dict[str, str] = field(default_factory=dict)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def why_confirm(self) -> str | None:
        """Why this plan must be confirmed before it starts, or None for an ordinary one."""
        reasons = []
        if self.total_calls > LARGE_PLAN_CALLS:
            reasons.append(f"about {self.total_calls:,} model calls (over {LARGE_PLAN_CALLS:,})")
        if self.estimated_cost is not None and self.estimated_cost > LARGE_PLAN_COST:
            reasons.append(
                f"an estimated cost of {self.estimated_cost:,.2f} (over {LARGE_PLAN_COST:,.2f})"
            )
        if not reasons:
            return None
        conversations = (
            f" and {self.conversations:,} conversations ({self.turns:,} turns)"
            if self.conversations
            else ""
        )
        return (
            f"this plan creates {self.tags:,} tags, {self.questions:,} questions, "
            f"{self.answers:,} answers{conversations}: {' and '.join(reasons)}"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"needs_confirmation": self.why_confirm()}


class PlanNeedsConfirmation(ConflictError):
    """A large plan was not confirmed: nothing was created or started."""

    def __init__(self, plan: Plan, reason: str) -> None:
        super().__init__(f"{reason}; confirm it to start (--yes, or confirm_large in the API)")
        self.plan = plan


def check_confirmed(plan: Plan, confirmed: bool) -> None:
    """Refuse a large plan that the user has not confirmed."""
    reason = plan.why_confirm()
    if reason is not None and not confirmed:
        raise PlanNeedsConfirmation(plan, reason)


@dataclass
class TreeSnapshot:
    """The tags, question counts and unanswered questions the planner and scheduler read."""

    depth: dict[int, int]
    children: dict[int | None, list[int]]
    question_count: dict[int, int]
    unanswered: dict[int, list[int]]
    # Per question of ``unanswered``, how many of its samples are missing (absent: 1).
    missing: dict[int, int] = field(default_factory=dict)
    # Questions whose conversation is not complete, per tag, and the turns each has stored.
    unconversed: dict[int, list[int]] = field(default_factory=dict)
    turns_stored: dict[int, tuple[int, int]] = field(default_factory=dict)


def missing_samples(project_id: int, samples: int) -> Any:
    """A SELECT of (question id, samples missing) for the project's questions that have
    fewer than ``samples`` of variants 0..samples-1. With one sample, any answer counts."""
    if samples == 1:
        answered = select(Answer.question_id).where(Answer.project_id == project_id)
        return select(Question.id, literal(1).label("missing")).where(
            Question.project_id == project_id, Question.id.not_in(answered)
        )
    have = (
        select(Answer.question_id, func.count(Answer.id).label("have"))
        .where(Answer.project_id == project_id, Answer.variant < samples)
        .group_by(Answer.question_id)
        .subquery()
    )
    missing = samples - func.coalesce(have.c.have, 0)
    return (
        select(Question.id, missing.label("missing"))
        .outerjoin(have, have.c.question_id == Question.id)
        .where(Question.project_id == project_id, missing > 0)
    )


def load_snapshot(session: Session, project_id: int, samples: int = 1) -> TreeSnapshot:
    depth: dict[int, int] = {}
    kids: dict[int | None, list[int]] = defaultdict(list)
    for tag_id, parent_id, tag_depth in session.execute(
        select(Tag.id, Tag.parent_id, Tag.depth)
        .where(Tag.project_id == project_id)
        .order_by(Tag.position, Tag.id)
    ):
        depth[tag_id] = tag_depth
        kids[parent_id].append(tag_id)
    counts: dict[int, int] = {}
    for counted_tag, count in session.execute(
        select(Question.tag_id, func.count(Question.id))
        .where(Question.project_id == project_id, Question.tag_id.is_not(None))
        .group_by(Question.tag_id)
    ):
        if counted_tag is not None:
            counts[counted_tag] = count
    unanswered: dict[int, list[int]] = defaultdict(list)
    missing: dict[int, int] = {}
    short = missing_samples(project_id, samples).subquery()
    for question_id, question_tag, count in session.execute(
        select(Question.id, Question.tag_id, short.c.missing)
        .join(short, short.c.id == Question.id)
        .where(Question.tag_id.is_not(None))
        .order_by(Question.id)
    ):
        if question_tag is not None:
            unanswered[question_tag].append(question_id)
            missing[question_id] = int(count)
    unconversed, stored = open_conversations(session, project_id)
    return TreeSnapshot(depth, kids, counts, unanswered, missing, unconversed, stored)


def _complete_conversations(project_id: int) -> Any:
    return select(Conversation.question_id).where(
        Conversation.project_id == project_id, Conversation.complete.is_(True)
    )


def open_conversations(
    session: Session, project_id: int, question_ids: Any = None
) -> tuple[dict[int, list[int]], dict[int, tuple[int, int]]]:
    """The questions (per tag, in id order) whose conversation is not complete, and for
    those that have one, (its rounds, its stored turns). ``question_ids``: among these."""
    query = select(Question.id, Question.tag_id).where(
        Question.project_id == project_id,
        Question.id.not_in(_complete_conversations(project_id)),
    )
    if question_ids is not None:
        query = query.where(Question.id.in_(question_ids))
    waiting: dict[int, list[int]] = defaultdict(list)
    for question_id, tag_id in session.execute(query.order_by(Question.id)):
        waiting[tag_id if tag_id is not None else 0].append(question_id)
    stored: dict[int, tuple[int, int]] = {}
    for question_id, rounds, count in session.execute(
        select(Conversation.question_id, Conversation.rounds, func.count(ConversationTurn.id))
        .join(ConversationTurn, ConversationTurn.conversation_id == Conversation.id)
        .where(Conversation.project_id == project_id, Conversation.complete.is_(False))
        .group_by(Conversation.question_id, Conversation.rounds)
    ):
        stored[question_id] = (rounds, count)
    return waiting, stored


def full_subtree(levels_below: int, per_level: int) -> tuple[int, int]:
    """Tags and leaves under one new tag that still needs ``levels_below`` levels."""
    tags = sum(per_level**level for level in range(1, levels_below + 1))
    return tags, per_level**levels_below


@dataclass
class WorkItem:
    """Work that is ready when a job starts: expansions, question top-ups, answers."""

    expand: list[int | None] = field(default_factory=list)
    questions: list[int] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    # Questions whose conversation is to be made or finished, with its turns still to make.
    conversations: dict[int, int] = field(default_factory=dict)


def leaf_depth(spec: JobSpec, snapshot: TreeSnapshot) -> int:
    base = 0 if spec.root_tag_id is None else snapshot.depth[spec.root_tag_id]
    if base + spec.levels > MAX_TAG_DEPTH:
        raise InvalidInputError(f"the tree may be at most {MAX_TAG_DEPTH} levels deep")
    return base + spec.levels


def _scoped(query: Any, spec: JobSpec) -> Any:
    if spec.question_ids is not None:
        return query.where(Question.id.in_(spec.question_ids))
    if spec.root_tag_id is not None:
        return query.where(Question.tag_id.in_(subtree_ids_query(spec.root_tag_id)))
    return query


def answer_scope(session: Session, project_id: int, spec: JobSpec) -> dict[int, int]:
    """Questions an answer-only job answers, in id order, with the samples each still
    needs: the unanswered ones it covers (with samples, those short of them), and with
    ``resample_before`` the listed ones whose answer is older than that."""
    if spec.resample_before is not None:
        kept = select(Answer.question_id).where(
            Answer.created_at >= datetime.fromisoformat(spec.resample_before)
        )
        query = select(Question.id, literal(1).label("missing")).where(
            Question.project_id == project_id, Question.id.not_in(kept)
        )
    else:
        query = missing_samples(project_id, spec.samples)
    rows = session.execute(_scoped(query, spec).order_by(Question.id))
    return {int(qid): int(count) for qid, count in rows}


def conversation_scope(session: Session, project_id: int, spec: JobSpec) -> list[int]:
    """Questions an answer-only job makes (or finishes) the conversation of, in id order."""
    query = select(Question.id).where(
        Question.project_id == project_id,
        Question.id.not_in(_complete_conversations(project_id)),
    )
    return list(session.scalars(_scoped(query, spec).order_by(Question.id)))


def turn_calls(rounds: int, stored: int = 1) -> tuple[int, int]:
    """(teacher turns, simulated user turns) still to make in a conversation of ``rounds``
    rounds that has ``stored`` turns (1: the opening question only)."""
    positions = range(stored, 2 * rounds)
    teacher = sum(1 for position in positions if position % 2)
    return teacher, len(positions) - teacher


class _ConversationPlan:
    """Adds conversations to a plan: new ones at the project's rounds, started ones from
    where they are."""

    def __init__(self, session: Session, project_id: int, plan: Plan, ready: WorkItem) -> None:
        self.rounds = multi_turn_setting(session, project_id).rounds
        self.plan, self.ready = plan, ready
        plan.calls.update(conversation=0, follow_up=0)

    def add_new(self, count: int) -> None:
        teacher, users = turn_calls(self.rounds)
        self.plan.conversations += count
        self.plan.turns += count * (teacher + users)
        self.plan.calls["conversation"] += count * teacher
        self.plan.calls["follow_up"] += count * users

    def add_existing(self, question_ids: list[int], stored: dict[int, tuple[int, int]]) -> None:
        for question_id in question_ids:
            rounds, count = stored.get(question_id, (self.rounds, 1))
            teacher, users = turn_calls(rounds, count)
            self.plan.conversations += 1
            self.plan.turns += teacher + users
            self.plan.calls["conversation"] += teacher
            self.plan.calls["follow_up"] += users
            self.ready.conversations[question_id] = teacher + users


def plan_job(
    session: Session, project_id: int, spec: JobSpec, snapshot: TreeSnapshot | None = None
) -> tuple[Plan, WorkItem]:
    """The exact counts still to create, and the work ready at the start."""
    plan, ready = Plan(), WorkItem()
    talks = _ConversationPlan(session, project_id, plan, ready) if spec.conversations else None
    if spec.answer_only:
        if spec.singles:
            scope = answer_scope(session, project_id, spec)
            ready.answers = list(scope)
            plan.answers = plan.calls["answer"] = sum(scope.values())
        if talks is not None:
            scope_ids = conversation_scope(session, project_id, spec)
            _waiting, stored = open_conversations(session, project_id, scope_ids)
            talks.add_existing(scope_ids, stored)
        return plan, ready
    snapshot = snapshot or load_snapshot(session, project_id, spec.samples)
    if spec.root_tag_id is not None and spec.root_tag_id not in snapshot.depth:
        raise InvalidInputError(f"tag {spec.root_tag_id} no longer exists")
    bottom = leaf_depth(spec, snapshot)
    per_level, per_leaf = spec.tags_per_level, spec.questions_per_leaf

    def add_new_tags(count: int, depth: int) -> None:
        # ``count`` tags created at ``depth`` with everything below them.
        below, leaves = full_subtree(bottom - depth, per_level)
        plan.tags += count * (1 + below)
        plan.calls["tags"] += count * (below // per_level if per_level else 0)
        new_leaves = count * leaves
        if per_leaf:
            plan.leaves += new_leaves
            plan.questions += new_leaves * per_leaf
            plan.calls["questions"] += new_leaves
            if spec.singles:
                plan.answers += new_leaves * per_leaf * spec.samples
            if talks is not None:
                talks.add_new(new_leaves * per_leaf)

    def visit(tag_id: int | None, depth: int) -> None:
        if depth == bottom:
            if not per_leaf or tag_id is None:
                return
            plan.leaves += 1
            missing = max(0, per_leaf - snapshot.question_count.get(tag_id, 0))
            if missing:
                ready.questions.append(tag_id)
                plan.questions += missing
                plan.calls["questions"] += 1
            if spec.singles:
                short = snapshot.unanswered.get(tag_id, [])
                ready.answers.extend(short)
                plan.answers += missing * spec.samples
                plan.answers += sum(snapshot.missing.get(qid, 1) for qid in short)
            if talks is not None:
                talks.add_new(missing)
                talks.add_existing(snapshot.unconversed.get(tag_id, []), snapshot.turns_stored)
            return
        kids = snapshot.children.get(tag_id, [])
        missing = max(0, per_level - len(kids))
        if missing:
            ready.expand.append(tag_id)
            plan.calls["tags"] += 1
            add_new_tags(missing, depth + 1)
        for kid in kids:
            visit(kid, depth + 1)

    visit(spec.root_tag_id, bottom - spec.levels)
    plan.answers = plan.answers if spec.singles else 0
    plan.calls["answer"] = plan.answers
    return plan, ready


# What one call of each purpose is taken to use, (input, output) tokens, before an endpoint
# has been seen answering it.
DEFAULT_TOKENS = {
    "tags": (450.0, 25.0),
    "questions": (600.0, 40.0),
    "answer": (80.0, 900.0),
    # A conversation's turns carry the history: on average about half of it per call.
    "conversation": (1_500.0, 900.0),
    "follow_up": (1_500.0, 60.0),
}


@dataclass(frozen=True)
class CallSize:
    """The tokens one call of a purpose is expected to use, and where that figure comes from."""

    input_tokens: float
    output_tokens: float
    observed_calls: int = 0  # 0: the default sizes

    @property
    def basis(self) -> str:
        if self.observed_calls:
            return f"average of the endpoint's last {self.observed_calls} calls"
        return "default token sizes (no call of the endpoint seen yet)"


def estimate_cost(
    plan: Plan,
    prices: dict[str, tuple[float | None, float | None] | None],
    sizes: dict[str, CallSize],
) -> float | None:
    """The plan's cost in the endpoints' currency, from each purpose's price and call size
    (see ``Plan.estimate_basis``); None when no endpoint has a price."""
    total, priced = 0.0, False
    for purpose, calls in plan.calls.items():
        price = prices.get(purpose)
        if not price or (price[0] is None and price[1] is None):
            continue
        priced = True
        size = sizes.get(purpose) or CallSize(*DEFAULT_TOKENS[purpose])
        total += calls * (
            size.input_tokens * (price[0] or 0) + size.output_tokens * (price[1] or 0)
        )
        if calls:
            plan.estimate_basis[purpose] = size.basis
    return round(total / 1e6, 6) if priced else None
