"""SQLAlchemy 2 models: the whole data model of DESIGN.md §3.

Everything links by id. Text comparison keys (``label_key``, ``text_hash``) are stored so
uniqueness is enforced by the database itself, which keeps concurrent writers honest.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored moment with its zone: SQLite hands back naive datetimes, written in UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def utc_iso(moment: datetime | None) -> str | None:
    """A stored moment as ISO 8601 text with its UTC offset, for JSON and exports."""
    aware = as_utc(moment)
    return aware.isoformat() if aware else None


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class ModelEndpoint(Base):
    __tablename__ = "model_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(100), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    model: Mapped[str] = mapped_column(String(200))
    preset: Mapped[str | None] = mapped_column(String(50))
    # A reference to the key, never the key: an env var name or a keys-file entry name.
    api_key_env: Mapped[str | None] = mapped_column(String(200))
    api_key_name: Mapped[str | None] = mapped_column(String(200))
    temperature: Mapped[float | None] = mapped_column(Float)
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    top_p: Mapped[float | None] = mapped_column(Float)
    extra_body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    structured_output: Mapped[str] = mapped_column(String(20), default="none")
    concurrency: Mapped[int | None] = mapped_column(Integer)
    rpm: Mapped[int | None] = mapped_column(Integer)
    tpm: Mapped[int | None] = mapped_column(Integer)
    price_input_per_m: Mapped[float | None] = mapped_column(Float)
    price_output_per_m: Mapped[float | None] = mapped_column(Float)
    # Input tokens the provider served from its prompt cache (None: the input price); the
    # share taken off every price for requests sent through its batch interface.
    price_cached_input_per_m: Mapped[float | None] = mapped_column(Float)
    batch_discount: Mapped[float | None] = mapped_column(Float)
    # Ask for answers streamed (server-sent chunks): long answers do not idle out a proxy.
    stream: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Learn how many requests it takes at once, under its (or the project's) maximum.
    adaptive: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # The concurrency the adaptive limit learned in the latest run that used the endpoint
    # (shown by `model show`); None until a run learned one.
    learned_concurrency: Mapped[int | None] = mapped_column(Integer)
    # Soft labels: answers ask for the top `logprobs` alternatives of each token (0: off);
    # `tokenizer` names the tokenizer the token ids belong to (a Hugging Face repo id, say).
    logprobs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tokenizer: Mapped[str | None] = mapped_column(String(200))
    # Whether an assistant turn's reasoning goes back to the model in a conversation's
    # history; None: what the preset needs (llm.conversation_history.passes_reasoning).
    reasoning_in_history: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    topic: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(10), default="en")
    question_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_endpoints.id", ondelete="SET NULL")
    )
    answer_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_endpoints.id", ondelete="SET NULL")
    )
    max_concurrency: Mapped[int] = mapped_column(Integer, default=8)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    tokens_per_minute: Mapped[int | None] = mapped_column(Integer)
    max_retries: Mapped[int] = mapped_column(Integer, default=3)
    request_timeout: Mapped[float] = mapped_column(Float, default=120.0)
    answer_system_prompt: Mapped[str | None] = mapped_column(Text)
    # The budget of a task started without --max-cost (None: no budget).
    max_cost: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    question_model: Mapped[ModelEndpoint | None] = relationship(
        foreign_keys=[question_model_id], lazy="joined"
    )
    answer_model: Mapped[ModelEndpoint | None] = relationship(
        foreign_keys=[answer_model_id], lazy="joined"
    )


class PromptOverride(Base):
    """A project's own version of one prompt template (kind: tags, questions, answer...)."""

    __tablename__ = "prompt_overrides"
    __table_args__ = (UniqueConstraint("project_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    template: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (
        # NULL parents (top level) compare equal through coalesce, on SQLite and PostgreSQL.
        Index(
            "uq_tags_sibling_label",
            "project_id",
            # text(), not func.coalesce("parent_id"): a plain string there is a literal value.
            text("coalesce(parent_id, 0)"),
            "label_key",
            unique=True,
        ),
        Index("ix_tags_parent", "parent_id", "position"),
        Index("ix_tags_project_depth", "project_id", "depth"),
        # Finding a tag by the start of its label (the tree's search).
        Index("ix_tags_project_label", "project_id", "label_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(Text)
    label_key: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    depth: Mapped[int] = mapped_column(Integer, default=1)
    origin: Mapped[str] = mapped_column(String(20), default="manual")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TagCounts(Base):
    """A tag's own questions and how many of them have an answer (any variant), and the same
    for its whole subtree (the tag and every tag below it) with the number of descendants.

    Derived data that database triggers keep (migration 0017_tag_counts) on every write of
    tags, questions and answers; code only reads it. A table of its own, not columns of
    tags: the triggers' frequent updates then neither lock a tag's row (renames and moves
    do not wait on answer writers) nor leave stale numbers on Tag objects a session holds.
    """

    __tablename__ = "tag_counts"

    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    questions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    answered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    subtree_tags: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    subtree_questions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    subtree_answered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (
        UniqueConstraint("project_id", "text_hash", name="uq_questions_project_hash"),
        Index("ix_questions_tag", "tag_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(20), default="distilled")
    model: Mapped[str | None] = mapped_column(String(100))
    # Why the latest answer attempt failed; cleared when an answer is stored.
    last_error: Mapped[str | None] = mapped_column(Text)
    # The attempt number its next answer request carries: deleting its answer moves it on,
    # so asking again sends a fresh request instead of replaying the cached reply.
    answer_attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # How its chosen sample was picked (review.selection: judge | consistency), and for a
    # vote the share of its samples that agree with the majority's final answer.
    selected_by: Mapped[str | None] = mapped_column(String(20))
    agreement: Mapped[float | None] = mapped_column(Float)
    # The judge's rating of how hard the question is (1-10), its reason, and when.
    difficulty: Mapped[int | None] = mapped_column(Integer)
    difficulty_reason: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Answer(Base):
    """A dataset record. ``variant`` 0 is the first answer; re-answers get the next number."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("question_id", "variant", name="uq_answers_question_variant"),
        Index("ix_answers_project_id", "project_id", "id"),
        Index("ix_answers_project_score", "project_id", "score"),
        Index("ix_answers_project_confirmed", "project_id", "confirmed", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    variant: Mapped[int] = mapped_column(Integer, default=0)
    answer: Mapped[str] = mapped_column(Text)
    reasoning: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(100))
    finish_reason: Mapped[str | None] = mapped_column(String(30))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The sample selection picked for its question (at most one per question): what an
    # export takes from a question with several samples.
    chosen: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    score: Mapped[float | None] = mapped_column(Float)
    score_reason: Mapped[str | None] = mapped_column(Text)
    scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    labels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # What the teacher was sent: its system prompt (None: none), the rendered user prompt and
    # the sampling parameters. A record without a prompt predates revision 0006 (or was
    # imported): nothing is known of what produced it.
    system_prompt: Mapped[str | None] = mapped_column(Text)
    prompt: Mapped[str | None] = mapped_column(Text)
    sampling: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The generated text exactly as the teacher produced it: the content, and the reasoning
    # where the server sent it apart; `text_spans` says where the answer and the reasoning lie
    # in them (character offsets). None: stored before revision 0007, or imported. Deferred:
    # listings never load them.
    raw_content: Mapped[str | None] = mapped_column(Text, deferred=True)
    raw_reasoning: Mapped[str | None] = mapped_column(Text, deferred=True)
    text_spans: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    # What became of the soft labels asked for with this answer (llm.soft_labels.STATUSES);
    # None: none were asked for.
    soft_label_status: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConversationSetting(Base):
    """A project's multi-turn setting (one row, or none: the defaults): the scenario, who
    asks and who answers, how many rounds (a user turn and the teacher's reply each), the
    system prompt its records carry, and the model that plays the user (None: the question
    model). Its own table, so projects without conversations are untouched."""

    __tablename__ = "conversation_settings"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    scenario: Mapped[str | None] = mapped_column(Text)
    user_role: Mapped[str | None] = mapped_column(String(200))
    assistant_role: Mapped[str | None] = mapped_column(String(200))
    rounds: Mapped[int] = mapped_column(Integer, default=3)
    system_prompt: Mapped[str | None] = mapped_column(Text)
    user_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_endpoints.id", ondelete="SET NULL")
    )

    user_model: Mapped[ModelEndpoint | None] = relationship(lazy="joined")


class Conversation(Base):
    """A multi-turn dataset record: a question opens it, the teacher answers each user turn,
    a simulated user writes each follow-up. One per question; its turns are committed one by
    one (``ConversationTurn``), so a stopped run goes on from the last one stored."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("question_id", name="uq_conversations_question"),
        Index("ix_conversations_project_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # The rounds it was planned with, and the setting it was made under (scenario, roles,
    # system prompt): a later change of the project's setting does not rewrite it.
    rounds: Mapped[int] = mapped_column(Integer)
    setting: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Whether every planned turn is stored; why the latest turn failed, if it did.
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float | None] = mapped_column(Float)
    score_reason: Mapped[str | None] = mapped_column(Text)
    scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConversationTurn(Base):
    """One message of a conversation: position 0 is the opening question, then the teacher
    (odd positions) and the simulated user (even ones) alternate."""

    __tablename__ = "conversation_turns"
    __table_args__ = (
        UniqueConstraint("conversation_id", "position", name="uq_conversation_turns_position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(20))  # user | assistant
    content: Mapped[str] = mapped_column(Text)
    reasoning: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(100))
    finish_reason: Mapped[str | None] = mapped_column(String(30))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SoftLabel(Base):
    """An answer's soft labels: the teacher's top-K distribution at each generated token,
    packed (llm.soft_labels), beside the record so that reading records never loads them."""

    __tablename__ = "soft_labels"

    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True
    )
    tokens: Mapped[int] = mapped_column(Integer)
    k: Mapped[int] = mapped_column(Integer)
    has_ids: Mapped[bool] = mapped_column(Boolean)
    # The token where the answer starts after the reasoning; None: the tokens do not spell
    # the stored text (the answer's soft_label_status says misaligned).
    answer_start: Mapped[int | None] = mapped_column(Integer)
    # Which tokenizer the ids belong to, as far as known (llm.teacher.tokenizer_identity).
    tokenizer: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RecordVersion(Base):
    """An earlier text of a record, kept when a refine, a restore or an edit replaced it:
    ``version`` counts from 1 per record, ``change`` says what replaced it (the advice of a
    refine, the version a restore brought back), ``task_id`` the refine task that did."""

    __tablename__ = "record_history"
    __table_args__ = (
        UniqueConstraint("answer_id", "version", name="uq_record_history_version"),
        Index("ix_record_history_task", "task_id", "answer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(Text)
    reasoning: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(100))
    change: Mapped[str] = mapped_column(Text)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_project_status", "project_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The one item it works on ("question:12"), where it names one: tasks of one kind on one
    # project may run side by side on different items. None: a subtree or the whole project.
    scope: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    # {"tags": {"planned", "done", "failed"}, "questions": ..., "answers": ..., "calls": ...}
    counters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # At least as many requests as its run has out now (written before it sends more): the
    # slots a run that takes the task over keeps free while the owner may be alive.
    open_requests: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# A work item's stage as the rank workers claim it in (expansions, then question top-ups,
# then answers): the claim orders by this very text, so the index below serves it.
WORK_ITEM_RANK = "(CASE stage WHEN 'expand' THEN 0 WHEN 'questions' THEN 1 ELSE 2 END)"


class WorkItem(Base):
    """One item of a job that several workers share, claimed by one worker at a time:
    ``owner`` holds it until ``lease_until``, then another may take it. ``stage`` says what
    it is: a tag to expand (``target`` the tag, 0 the project's top level), a leaf to top up
    with questions, or a question to answer. ``outcome`` (done, failed, skipped) is set once
    it is finished; an expansion or a top-up also says how many rows it ``made`` and how
    many it wanted and could not make (``short``)."""

    __tablename__ = "work_items"
    __table_args__ = (
        UniqueConstraint("task_id", "stage", "target", name="uq_work_items_item"),
        Index("ix_work_items_open", "task_id", "outcome", "lease_until"),
        # The unfinished items in claim order (migration 0021).
        Index(
            "ix_work_items_free",
            "task_id",
            text(WORK_ITEM_RANK),
            "id",
            postgresql_where=text("outcome IS NULL"),
            sqlite_where=text("outcome IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(10), default="answer")
    target: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(10))
    made: Mapped[int | None] = mapped_column(Integer)
    short: Mapped[int | None] = mapped_column(Integer)


class SlotLease(Base):
    """One of a project's request slots (``slot`` below its max concurrency), leased by the
    worker that may use it until ``expires_at``: the limit holds across workers, and a dead
    worker's slots come back when their lease runs out."""

    __tablename__ = "slot_leases"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RateBucket(Base):
    """A per-minute limit (requests or tokens) shared by the workers of one database: the
    budget left (``level``) as of ``updated_at``, refilled at the limit's rate. Workers draw
    small grants from it under a row lock (``runs.shared_rates``); ``name`` says whose limit
    and of what, e.g. ``project:12:requests``."""

    __tablename__ = "rate_buckets"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    level: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TaskWorker(Base):
    """A worker taking part in a shared job, as of its last heartbeat: the project's slots
    are shared among the living ones."""

    __tablename__ = "task_workers"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    owner: Mapped[str] = mapped_column(String(200), primary_key=True)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TaskEvent(Base):
    """A line of a task's recent history (created items, failures), shown live."""

    __tablename__ = "task_events"
    __table_args__ = (Index("ix_task_events_task", "task_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(10), default="info")
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LlmCall(Base):
    """One model request: the usage log, and (for successes) the response cache."""

    __tablename__ = "llm_calls"
    __table_args__ = (
        Index("ix_llm_calls_key_status", "request_key", "status"),
        Index("ix_llm_calls_project", "project_id", "id"),
        Index("ix_llm_calls_task", "task_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    endpoint_alias: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(50))
    request_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))  # ok | error
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    request_body: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    # Of the input tokens, those the provider served from its prompt cache.
    cached_input_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# Sums of floats, kept exact (numeric) on PostgreSQL, so a writer's part that nets to zero is
# zero; read as floats.
_EXACT_SUM = Float().with_variant(Numeric(asdecimal=False), "postgresql")


class UsageRollup(Base):
    """The usage log's sums per project, UTC day, endpoint alias and task (0: none), kept by
    triggers on llm_calls (migration 0018) so the usage report never scans the log. ``cost``
    sums the priced calls (``priced`` of them); ``latency_sum`` the ``timed`` ones.

    Each writer (a PostgreSQL connection's backend; 0 on SQLite) keeps its own part of a group,
    so concurrent writers never wait for each other: a group's figures are the sum over
    writers, and a part may be negative (a writer that deleted calls another one wrote)."""

    __tablename__ = "usage_rollup"

    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    endpoint_alias: Mapped[str] = mapped_column(String(100), primary_key=True)
    task_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    writer: Mapped[int] = mapped_column(Integer, primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cached_input_tokens: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[float] = mapped_column(_EXACT_SUM)
    priced: Mapped[int] = mapped_column(Integer)
    latency_sum: Mapped[float] = mapped_column(_EXACT_SUM)
    timed: Mapped[int] = mapped_column(Integer)


# The bins of UsageLatency, in milliseconds: 10 ms wide below 10 s, 1 s wide above (the
# triggers of migration 0018 compute them with these numbers).
LATENCY_FINE_MS, LATENCY_FINE_LIMIT_MS, LATENCY_COARSE_MS = 10, 10_000, 1000


class UsageLatency(Base):
    """How many of a project's successful calls took a latency of each bin, kept by the
    triggers that keep UsageRollup (one part per writer, as there)."""

    __tablename__ = "usage_latency"

    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bin: Mapped[int] = mapped_column(Integer, primary_key=True)
    writer: Mapped[int] = mapped_column(Integer, primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)


class LlmBatch(Base):
    """A batch of requests a task submitted to a provider's batch interface.

    ``status``: preparing (its rows written, not known to the provider yet), submitted,
    ingested (its results are in the call log), cancelled."""

    __tablename__ = "llm_batches"
    __table_args__ = (Index("ix_llm_batches_task", "task_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    endpoint_alias: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(50))
    remote_id: Mapped[str | None] = mapped_column(String(200))
    input_file_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    remote_status: Mapped[str | None] = mapped_column(String(30))
    requests: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LlmBatchRequest(Base):
    """One line of a batch: its custom_id is the request's cache key."""

    __tablename__ = "llm_batch_requests"
    __table_args__ = (Index("ix_llm_batch_requests_batch", "batch_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("llm_batches.id", ondelete="CASCADE"))
    request_key: Mapped[str] = mapped_column(String(64))
    request_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # pending | done | failed | retried


# Full-text indexes (SQLite FTS5, migration 0003) sit beside the models, not in them: their
# virtual tables and FTS5's shadow tables (``<name>_data``, ...) are no model's to compare.
TEXT_INDEX_TABLES = ("questions_fts", "answers_fts")


def is_text_index_table(name: str | None) -> bool:
    """Whether a table is a full-text index or one of its shadow tables."""
    return name is not None and any(
        name == index or name.startswith(f"{index}_") for index in TEXT_INDEX_TABLES
    )
