"""Multi-turn conversations: the question opens one, the teacher answers each user turn, a
simulated user writes each follow-up. Each call makes one turn, committed on its own, so a
stopped run goes on from the last stored turn (and the replies it had are in the cache).

Turn positions: 0 is the question, odd positions are the teacher's, even ones (from 2) the
simulated user's; a conversation of R rounds is complete with 2R turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from distillset.domain import ModelCallError, storable_text
from distillset.generation.context import DistillContext, full_path
from distillset.generation.targets import TargetGone
from distillset.llm import ChatResult, Gateway
from distillset.llm.gateway import BeforeSend
from distillset.llm.writer import run_write
from distillset.projects.conversation_setting import MultiTurnSetting
from distillset.prompts import empty_list_word, render
from distillset.review.conversations import Turn, transcript
from distillset.store import Conversation, ConversationTurn, Question, Store, Tag
from distillset.store.models import utcnow
from distillset.tags.tree import tag_path

MAX_ERROR_CHARS = 2_000
USER, ASSISTANT = "user", "assistant"

_conversations: Table = Conversation.__table__  # type: ignore[assignment]
_turns: Table = ConversationTurn.__table__  # type: ignore[assignment]


def turns_planned(rounds: int) -> int:
    """The turns of a complete conversation of ``rounds`` rounds (the question included)."""
    return 2 * rounds


def role_at(position: int) -> str:
    return ASSISTANT if position % 2 else USER


@dataclass(frozen=True)
class ConversationState:
    """A conversation as its next step needs it: what is stored, and what it is made under."""

    conversation_id: int
    question_id: int
    rounds: int
    setting: MultiTurnSetting
    path: str
    turns: tuple[Turn, ...]

    @property
    def next_position(self) -> int:
        return len(self.turns)

    @property
    def remaining(self) -> int:
        return max(0, turns_planned(self.rounds) - len(self.turns))


@dataclass
class TurnOutcome:
    question_id: int
    conversation_id: int | None = None
    position: int | None = None  # the turn this step stored
    remaining: int = 0  # turns still to make after this step
    gone: bool = False  # the question (or its conversation) was deleted meanwhile
    error: str | None = None
    call: ChatResult | None = None

    @property
    def complete(self) -> bool:
        return self.error is None and not self.gone and self.remaining == 0


def _path(session: Any, context: DistillContext, tag_id: int | None) -> str:
    tag = None if tag_id is None else session.get(Tag, tag_id)
    return context.topic if tag is None else full_path(context, tag_path(session, tag).labels)


def _create(connection: Connection, context: DistillContext, question_id: int, text: str) -> None:
    """The conversation row and its opening turn, in one transaction."""
    setting = context.multi_turn
    conversation_id = connection.execute(
        insert(_conversations).returning(_conversations.c.id),
        {
            "question_id": question_id,
            "project_id": context.project_id,
            "rounds": setting.rounds,
            "setting": setting.as_dict(),
            "complete": False,
            "confirmed": False,
            "created_at": utcnow(),
        },
    ).scalar_one()
    connection.execute(
        insert(_turns),
        {
            "conversation_id": conversation_id,
            "position": 0,
            "role": USER,
            "content": text,
            "created_at": utcnow(),
        },
    )


def load_state(store: Store, context: DistillContext, question_id: int) -> ConversationState:
    """The question's conversation with its stored turns, created (with the question as its
    opening turn) when it has none yet. TargetGone for a deleted question."""
    for _attempt in range(2):  # a clash means another run created it: read it back
        with store.session() as session:
            question = session.get(Question, question_id)
            if question is None or question.project_id != context.project_id:
                raise TargetGone("question", question_id)
            conversation = session.scalar(
                select(Conversation).where(Conversation.question_id == question_id)
            )
            if conversation is None:
                try:
                    _create(session.connection(), context, question_id, question.text)
                    session.commit()
                except IntegrityError:
                    session.rollback()
                continue
            rows = session.execute(
                select(ConversationTurn.role, ConversationTurn.content, ConversationTurn.reasoning)
                .where(ConversationTurn.conversation_id == conversation.id)
                .order_by(ConversationTurn.position)
            ).all()
            return ConversationState(
                conversation.id,
                question_id,
                conversation.rounds,
                MultiTurnSetting.from_dict(conversation.setting or {}),
                _path(session, context, question.tag_id),
                tuple(Turn(*row) for row in rows),
            )
    raise TargetGone("question", question_id)


def _prompt_values(context: DistillContext, state: ConversationState) -> dict[str, str]:
    setting = state.setting
    return {
        "path": state.path,
        "topic": context.topic,
        "scenario": setting.scenario or empty_list_word(context.language),
        "user_role": setting.shown_user_role,
        "assistant_role": setting.shown_assistant_role,
    }


def teacher_messages(context: DistillContext, state: ConversationState) -> list[dict[str, str]]:
    """The teacher's request: its role and the scenario, then the whole conversation; the
    earlier replies carry their reasoning where the endpoint wants it back."""
    system = render(context.templates["conversation"], **_prompt_values(context, state))
    if state.setting.system_prompt:
        system = f"{system}\n\n{state.setting.system_prompt}"
    messages = [{"role": "system", "content": system}]
    with_reasoning = context.answer_model.reasoning_in_history
    for turn in state.turns:
        message = {"role": turn.role, "content": turn.content}
        if with_reasoning and turn.role == ASSISTANT and turn.reasoning:
            message["reasoning_content"] = turn.reasoning
        messages.append(message)
    return messages


def follow_up_messages(context: DistillContext, state: ConversationState) -> list[dict[str, str]]:
    """The user simulator's request: play the user, aware of the whole history."""
    content = render(
        context.templates["follow_up"],
        **_prompt_values(context, state),
        history=transcript(state.turns),
        round=state.next_position // 2 + 1,
    )
    return [{"role": "user", "content": content}]


STORED, GONE, TAKEN = "stored", "gone", "taken"


def _commit_turn(
    store: Store, state: ConversationState, position: int, values: dict[str, Any]
) -> str:
    """Store one turn (and mark the conversation complete with its last one): STORED, GONE
    (the conversation was deleted meanwhile) or TAKEN (another run stored it first)."""
    complete = position + 1 >= turns_planned(state.rounds)
    try:
        with store.engine.begin() as connection:
            exists = connection.execute(
                select(func.count())
                .select_from(_conversations)
                .where(_conversations.c.id == state.conversation_id)
            ).scalar_one()
            if not exists:
                return GONE
            connection.execute(
                insert(_turns),
                {
                    "conversation_id": state.conversation_id,
                    "position": position,
                    "role": role_at(position),
                    "created_at": utcnow(),
                    **values,
                },
            )
            connection.execute(
                update(_conversations)
                .where(_conversations.c.id == state.conversation_id)
                .values(last_error=None, complete=complete)
            )
    except IntegrityError:
        return TAKEN
    return STORED


def _record_failure(store: Store, conversation_id: int, error: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            update(_conversations)
            .where(_conversations.c.id == conversation_id)
            .values(last_error=error[:MAX_ERROR_CHARS])
        )


async def advance_conversation(
    store: Store,
    gateway: Gateway,
    context: DistillContext,
    question_id: int,
    *,
    task_id: int | None = None,
    before_send: BeforeSend | None = None,
) -> TurnOutcome:
    """Make the next turn of the question's conversation (creating it first if needed) and
    commit it. A failure is recorded on the conversation, never stored as a turn."""
    outcome = TurnOutcome(question_id)
    try:
        state = await run_write(store.engine, load_state, store, context, question_id)
    except TargetGone:
        outcome.gone = True
        return outcome
    outcome.conversation_id = state.conversation_id
    outcome.remaining = state.remaining
    if state.remaining == 0:
        return outcome
    position = state.next_position
    teacher = role_at(position) == ASSISTANT
    if teacher:
        endpoint, purpose = context.answer_model, "conversation"
        messages = teacher_messages(context, state)
    else:
        endpoint, purpose = context.user_model, "follow_up"
        messages = follow_up_messages(context, state)
    try:
        result = await gateway.chat(
            endpoint,
            messages,
            purpose=purpose,
            task_id=task_id,
            # The conversation's id: one deleted and made again is asked afresh.
            attempt=state.conversation_id,
            stream=endpoint.stream and teacher,
            before_send=before_send,
        )
    except TargetGone:
        outcome.gone = True
        return outcome
    except ModelCallError as exc:
        outcome.error = str(exc) or type(exc).__name__
        await run_write(store.engine, _record_failure, store, state.conversation_id, outcome.error)
        return outcome
    outcome.call = result
    content = storable_text(result.content).strip()
    if not content:
        outcome.error = "the model returned an empty turn"
        await run_write(store.engine, _record_failure, store, state.conversation_id, outcome.error)
        return outcome
    values = {
        "content": content,
        "reasoning": result.reasoning if teacher else None,
        "model": result.model or endpoint.model,
        "finish_reason": result.finish_reason,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "reasoning_tokens": result.reasoning_tokens,
        "latency_ms": result.latency_ms,
    }
    stored = await run_write(store.engine, _commit_turn, store, state, position, values)
    if stored == GONE:
        outcome.gone = True
        return outcome
    if stored == TAKEN:
        # Another run stored this turn first: go on from what is stored now.
        try:
            state = await run_write(store.engine, load_state, store, context, question_id)
        except TargetGone:
            outcome.gone = True
            return outcome
        outcome.remaining = state.remaining
        return outcome
    outcome.position = position
    outcome.remaining = state.remaining - 1
    return outcome


async def make_conversation(
    store: Store,
    gateway: Gateway,
    context: DistillContext,
    question_id: int,
    *,
    task_id: int | None = None,
    before_send: BeforeSend | None = None,
) -> TurnOutcome:
    """Every turn still missing of the question's conversation, one after the other; the
    outcome of the last step (an error stops it: the stored turns stay)."""
    while True:
        outcome = await advance_conversation(
            store, gateway, context, question_id, task_id=task_id, before_send=before_send
        )
        if outcome.error is not None or outcome.gone or outcome.remaining == 0:
            return outcome
