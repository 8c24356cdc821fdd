"""Multi-turn records: reading conversations with their turns, and reviewing them (confirm,
score, note, edit a turn, delete), as single records are reviewed.

A conversation is filtered by the conditions of ``RecordFilter`` that mean the same for it
(its tag's subtree, confirmed, scored, the score range, ids); the others name what a single
answer holds and are refused here with one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError, NotFoundError, checked_text
from distillset.generation.dedup import comparison_key, is_near_duplicate
from distillset.review.editing import checked_score, score_values
from distillset.review.filters import RecordFilter
from distillset.store.models import (
    Conversation,
    ConversationTurn,
    Project,
    Question,
    utc_iso,
)
from distillset.store.queries import TagPaths
from distillset.tags.tree import subtree_ids_query, tag_in_project

DEFAULT_BATCH_SIZE = 500
# The quality flag of a user turn that says again what an earlier user turn said (the user
# simulator repeating itself): computed when read, never stored, as the records' flags.
REPEATED_FOLLOW_UP = "repeated_follow_up"
# Conditions of a record filter that only single answers have.
SINGLE_ONLY_CONDITIONS = ("has_reasoning", "model", "search", "label")


@dataclass(frozen=True)
class Turn:
    """A turn as a prompt shows it."""

    role: str
    content: str
    reasoning: str | None = None


def transcript(turns: Iterable[Turn]) -> str:
    """The turns as the user simulator and the judge read them (no reasoning)."""
    return "\n\n".join(f"[{turn.role}]\n{turn.content}" for turn in turns)


@dataclass
class TurnView:
    position: int
    role: str
    content: str
    reasoning: str | None = None
    model: str | None = None
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


def repeated_follow_ups(turns: Iterable[TurnView]) -> list[dict[str, Any]]:
    """A flag for each follow-up (a user turn after the question) that is the same as, or a
    near duplicate of, an earlier user turn of the conversation (the question included)."""
    flags: list[dict[str, Any]] = []
    earlier: list[tuple[int, str]] = []  # (position, comparison key) of the user turns so far
    for turn in turns:
        if turn.role != "user":
            continue
        key = comparison_key(turn.content)
        repeated = next((pos for pos, other in earlier if is_near_duplicate(key, other)), None)
        if repeated is not None:
            detail = f"turn {turn.position} repeats turn {repeated}"
            flags.append({"kind": REPEATED_FOLLOW_UP, "position": turn.position, "detail": detail})
        earlier.append((turn.position, key))
    return flags


@dataclass
class ConversationRecord:
    """One conversation with its turns: what review shows and conversational exports use."""

    id: int
    question_id: int
    tag_id: int | None
    tag_path: str
    rounds: int
    complete: bool
    turns: list[TurnView] = field(default_factory=list)
    setting: dict[str, Any] = field(default_factory=dict)
    confirmed: bool = False
    score: float | None = None
    score_reason: str | None = None
    scored_at: datetime | None = None
    note: str | None = None
    last_error: str | None = None
    created_at: datetime | None = None

    @property
    def question(self) -> str:
        return self.turns[0].content if self.turns else ""

    @property
    def system_prompt(self) -> str | None:
        return self.setting.get("system_prompt") or None

    @property
    def flags(self) -> list[dict[str, Any]]:
        """What a reviewer would want to see: follow-ups that repeat an earlier user turn."""
        return repeated_follow_ups(self.turns)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["scored_at"] = utc_iso(self.scored_at)
        data["created_at"] = utc_iso(self.created_at)
        data["flags"] = self.flags
        return data


def applies_to_conversations(record_filter: RecordFilter) -> bool:
    """Whether the filter names only conditions a conversation has."""
    return all(getattr(record_filter, name) is None for name in SINGLE_ONLY_CONDITIONS)


def conversation_conditions(
    session: Session, project: Project, record_filter: RecordFilter
) -> list[ColumnElement[bool]]:
    """SQL conditions on ``conversations`` (joined to ``questions``) for the filter."""
    flt = record_filter
    for name in SINGLE_ONLY_CONDITIONS:
        if getattr(flt, name) is not None:
            shown = name.replace("_", " ")
            raise InvalidInputError(
                f"the {shown!r} condition applies to single records only, not to conversations"
            )
    conditions: list[ColumnElement[bool]] = [Conversation.project_id == project.id]
    if flt.ids:
        conditions.append(Conversation.id.in_(flt.ids))
    if flt.tag_id is not None:
        tag = tag_in_project(session, project, flt.tag_id)
        conditions.append(Question.tag_id.in_(subtree_ids_query(tag.id)))
    if flt.confirmed is not None:
        conditions.append(Conversation.confirmed.is_(flt.confirmed))
    if flt.scored is True:
        conditions.append(Conversation.score >= 0)
    elif flt.scored is False:
        conditions.append(Conversation.score.is_(None))
    if flt.min_score is not None:
        conditions.append(Conversation.score >= flt.min_score)
    if flt.max_score is not None:
        conditions.append(Conversation.score <= flt.max_score)
    if flt.scored_before is not None:  # set by a rescoring judge task, for itself
        conditions.append(
            or_(Conversation.scored_at.is_(None), Conversation.scored_at < flt.scored_before)
        )
    return conditions


def count_conversations(
    session: Session,
    project: Project,
    record_filter: RecordFilter | None = None,
    *,
    complete: bool | None = None,
) -> int:
    """How many of the project's conversations the filter keeps."""
    conditions = conversation_conditions(session, project, record_filter or RecordFilter())
    query = (
        select(func.count(Conversation.id))
        .join(Question, Question.id == Conversation.question_id)
        .where(*conditions)
    )
    if complete is not None:
        query = query.where(Conversation.complete.is_(complete))
    return int(session.scalar(query) or 0)


def _turns_of(session: Session, ids: list[int]) -> dict[int, list[TurnView]]:
    turns: dict[int, list[TurnView]] = {conversation_id: [] for conversation_id in ids}
    if not ids:
        return turns
    rows = session.execute(
        select(
            ConversationTurn.conversation_id,
            ConversationTurn.position,
            ConversationTurn.role,
            ConversationTurn.content,
            ConversationTurn.reasoning,
            ConversationTurn.model,
            ConversationTurn.finish_reason,
            ConversationTurn.input_tokens,
            ConversationTurn.output_tokens,
        )
        .where(ConversationTurn.conversation_id.in_(ids))
        .order_by(ConversationTurn.conversation_id, ConversationTurn.position)
    )
    for row in rows:
        turns[row[0]].append(TurnView(*row[1:]))
    return turns


def list_conversations(
    session: Session,
    project: Project,
    record_filter: RecordFilter | None = None,
    *,
    complete: bool | None = None,
    after: int | None = None,
    limit: int = 50,
    paths: TagPaths | None = None,
) -> list[ConversationRecord]:
    """One page of the project's conversations in id order, after the id ``after``."""
    conditions = conversation_conditions(session, project, record_filter or RecordFilter())
    query = (
        select(Conversation, Question.tag_id)
        .join(Question, Question.id == Conversation.question_id)
        .where(*conditions)
    )
    if complete is not None:
        query = query.where(Conversation.complete.is_(complete))
    if after is not None:
        query = query.where(Conversation.id > after)
    rows = session.execute(query.order_by(Conversation.id).limit(limit)).all()
    turns = _turns_of(session, [row[0].id for row in rows])
    paths = paths or TagPaths(session)
    paths.load(tag_id for _row, tag_id in rows)
    return [
        ConversationRecord(
            id=row.id,
            question_id=row.question_id,
            tag_id=tag_id,
            tag_path=paths.path(tag_id),
            rounds=row.rounds,
            complete=row.complete,
            turns=turns[row.id],
            setting=dict(row.setting or {}),
            confirmed=row.confirmed,
            score=row.score,
            score_reason=row.score_reason,
            scored_at=row.scored_at,
            note=row.note,
            last_error=row.last_error,
            created_at=row.created_at,
        )
        for row, tag_id in rows
    ]


def iter_conversations(
    session: Session,
    project: Project,
    record_filter: RecordFilter,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[list[ConversationRecord]]:
    """Every complete conversation the filter keeps, oldest first, a batch at a time."""
    paths = TagPaths(session, project.id)
    after: int | None = None
    while True:
        batch = list_conversations(
            session, project, record_filter, complete=True, after=after, limit=batch_size,
            paths=paths,
        )  # fmt: skip
        if not batch:
            return
        yield batch
        after = batch[-1].id
        if len(batch) < batch_size:
            return


def count_complete_conversations(session: Session, project_id: int) -> int:
    query = select(func.count(Conversation.id)).where(
        Conversation.project_id == project_id, Conversation.complete.is_(True)
    )
    return int(session.scalar(query) or 0)


def _row(session: Session, project: Project, conversation_id: int) -> Conversation:
    row = session.get(Conversation, conversation_id)
    if row is None or row.project_id != project.id:
        raise NotFoundError(f"no conversation {conversation_id} in project {project.name!r}")
    return row


def get_conversation(
    session: Session, project: Project, conversation_id: int
) -> ConversationRecord:
    _row(session, project, conversation_id)
    found = list_conversations(session, project, RecordFilter(ids=(conversation_id,)), limit=1)
    return found[0]


def _ids_in(session: Session, project: Project, ids: Iterable[int]) -> list[int]:
    wanted = list(dict.fromkeys(ids))
    found = set(
        session.scalars(
            select(Conversation.id).where(
                Conversation.project_id == project.id, Conversation.id.in_(wanted)
            )
        )
    )
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise NotFoundError(f"no conversation(s) {', '.join(missing)} in project {project.name!r}")
    return wanted


def set_conversations_confirmed(
    session: Session, project: Project, ids: Iterable[int], confirmed: bool = True
) -> int:
    chosen = _ids_in(session, project, ids)
    session.execute(
        update(Conversation).where(Conversation.id.in_(chosen)).values(confirmed=confirmed)
    )
    return len(chosen)


def set_conversation_score(
    session: Session,
    project: Project,
    ids: Iterable[int],
    score: float | None,
    *,
    reason: str | None = None,
) -> int:
    """Score conversations (``None`` clears the score and its reason)."""
    value = None if score is None else checked_score(score)
    chosen = _ids_in(session, project, ids)
    session.execute(
        update(Conversation).where(Conversation.id.in_(chosen)).values(score_values(value, reason))
    )
    return len(chosen)


def set_conversation_note(
    session: Session, project: Project, conversation_id: int, note: str | None
) -> None:
    """Attach a note to a conversation; an empty note removes it."""
    row = _row(session, project, conversation_id)
    if note:
        checked_text("note", note, None, single_line=False)
    row.note = note if note and note.strip() else None
    session.flush()


def edit_turn(
    session: Session,
    project: Project,
    conversation_id: int,
    position: int,
    *,
    content: str | None = None,
    reasoning: str | None = None,
) -> ConversationRecord:
    """Change one turn's text (and, for the teacher's turns, its reasoning; an empty one
    removes it). An empty turn is refused: delete the conversation instead."""
    _row(session, project, conversation_id)
    turn = session.scalar(
        select(ConversationTurn).where(
            ConversationTurn.conversation_id == conversation_id,
            ConversationTurn.position == position,
        )
    )
    if turn is None:
        raise NotFoundError(f"conversation {conversation_id} has no turn {position}")
    if content is not None:
        checked_text("turn", content, None, single_line=False)
        if not content.strip():
            raise InvalidInputError(
                "a turn cannot be empty; to drop the conversation, delete it "
                f"(distillset conversations delete {project.name!r} {conversation_id})"
            )
        turn.content = content
    if reasoning is not None:
        if turn.role != "assistant":
            raise InvalidInputError("only the teacher's turns carry reasoning")
        checked_text("reasoning", reasoning, None, single_line=False)
        turn.reasoning = reasoning if reasoning.strip() else None
    session.flush()
    return get_conversation(session, project, conversation_id)


def delete_conversations(session: Session, project: Project, ids: Iterable[int]) -> int:
    """Delete conversations with their turns; their questions stay (a later multi-turn run
    makes each a new conversation, asked afresh: their answer attempt moves on)."""
    chosen = _ids_in(session, project, ids)
    questions = select(Conversation.question_id).where(Conversation.id.in_(chosen))
    session.execute(
        update(Question)
        .where(Question.id.in_(questions))
        .values(answer_attempt=Question.answer_attempt + 1)
    )
    session.execute(delete(Conversation).where(Conversation.id.in_(chosen)))
    return len(chosen)
