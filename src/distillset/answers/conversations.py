"""Multi-turn conversations: the question opens one, the teacher answers each user turn, a
simulated user writes each follow-up. Each call makes one turn, committed on its own, so a
stopped run goes on from the last stored turn (and the replies it had are in the cache).

Turn positions: 0 is the question, odd positions are the teacher's, even ones (from 2) the
simulated user's; a conversation of R rounds is complete with 2R turns.

A step carries the conversation's state forward (``ConversationState``), so only a resumed
conversation is read from the database; its first stored turn creates the conversation row
with the opening question. Turns that arrive together are committed in one transaction
(``TurnWriter``), as answers are.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from distillset.domain import ModelCallError, storable_text
from distillset.generation.context import DistillContext, full_path
from distillset.generation.targets import TargetGone
from distillset.llm import ChatResult, Gateway
from distillset.llm.gateway import BeforeSend
from distillset.llm.writer import GroupCommit
from distillset.projects.conversation_setting import MultiTurnSetting
from distillset.prompts import empty_list_word, render
from distillset.review.conversations import Turn, transcript
from distillset.store import Conversation, ConversationTurn, Question, Store, Tag
from distillset.store.models import utcnow
from distillset.tags.tree import tag_path

MAX_ERROR_CHARS = 2_000
USER, ASSISTANT = "user", "assistant"
# What committing a turn came to.
STORED, GONE, TAKEN = "stored", "gone", "taken"

_conversations: Table = Conversation.__table__  # type: ignore[assignment]
_turns: Table = ConversationTurn.__table__  # type: ignore[assignment]
_questions: Table = Question.__table__  # type: ignore[assignment]


def turns_planned(rounds: int) -> int:
    """The turns of a complete conversation of ``rounds`` rounds (the question included)."""
    return 2 * rounds


def role_at(position: int) -> str:
    return ASSISTANT if position % 2 else USER


@dataclass(frozen=True)
class ConversationState:
    """A conversation as its next step needs it: what is stored, and what it is made under."""

    conversation_id: int | None  # None: nothing stored yet (the question alone)
    question_id: int
    rounds: int
    setting: MultiTurnSetting
    path: str
    turns: tuple[Turn, ...]
    # The question's answer attempt: a conversation deleted and made again asks afresh.
    attempt: int = 0

    @property
    def next_position(self) -> int:
        return len(self.turns)

    @property
    def remaining(self) -> int:
        return max(0, turns_planned(self.rounds) - len(self.turns))


def new_state(
    context: DistillContext, question_id: int, text: str, path: str, attempt: int = 0
) -> ConversationState:
    """The state of a question's conversation before anything is stored: its question."""
    setting = context.multi_turn
    return ConversationState(
        None, question_id, setting.rounds, setting, path, (Turn(USER, text),), attempt
    )


@dataclass
class TurnOutcome:
    question_id: int
    conversation_id: int | None = None
    position: int | None = None  # the turn this step stored
    remaining: int = 0  # turns still to make after this step
    gone: bool = False  # the question (or its conversation) was deleted meanwhile
    error: str | None = None
    call: ChatResult | None = None
    state: ConversationState | None = None  # what the next step starts from

    @property
    def complete(self) -> bool:
        return self.error is None and not self.gone and self.remaining == 0


def _path(session: Any, context: DistillContext, tag_id: int | None) -> str:
    tag = None if tag_id is None else session.get(Tag, tag_id)
    return context.topic if tag is None else full_path(context, tag_path(session, tag).labels)


def load_state(store: Store, context: DistillContext, question_id: int) -> ConversationState:
    """The question's conversation as stored (its question alone when it has none yet);
    TargetGone for a deleted question."""
    with store.session() as session:
        question = session.get(Question, question_id)
        if question is None or question.project_id != context.project_id:
            raise TargetGone("question", question_id)
        path = _path(session, context, question.tag_id)
        conversation = session.scalar(
            select(Conversation).where(Conversation.question_id == question_id)
        )
        if conversation is None:
            return new_state(context, question_id, question.text, path, question.answer_attempt)
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
            path,
            tuple(Turn(*row) for row in rows),
            question.answer_attempt,
        )


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


@dataclass(frozen=True)
class _Write:
    """One thing to commit: a turn at ``position`` (``values``), or a failure (``error``)."""

    state: ConversationState
    position: int | None = None
    values: dict[str, Any] | None = None
    error: str | None = None


def _create(connection: Connection, project_id: int, state: ConversationState) -> int:
    """The conversation row and its opening turn; IntegrityError when it exists already."""
    conversation_id = connection.execute(
        insert(_conversations).returning(_conversations.c.id),
        {
            "question_id": state.question_id,
            "project_id": project_id,
            "rounds": state.rounds,
            "setting": state.setting.as_dict(),
            "complete": False,
            "confirmed": False,
            "created_at": utcnow(),
        },
    ).scalar_one()
    opening = state.turns[0]
    connection.execute(
        insert(_turns),
        {
            "conversation_id": conversation_id,
            "position": 0,
            "role": USER,
            "content": opening.content,
            "created_at": utcnow(),
        },
    )
    return int(conversation_id)


def _commit(connection: Connection, project_id: int, writes: list[_Write]) -> list[Any]:
    """Commit writes in one transaction: (STORED or GONE, the conversation's id) each; a
    clash with another run's rows raises IntegrityError (see TurnWriter)."""
    known = [w.state.conversation_id for w in writes if w.state.conversation_id is not None]
    asked = [w.state.question_id for w in writes if w.state.conversation_id is None]
    present = set(
        connection.execute(select(_conversations.c.id).where(_conversations.c.id.in_(known)))
        .scalars()
        .all()
    )
    questions = set(
        connection.execute(select(_questions.c.id).where(_questions.c.id.in_(asked)))
        .scalars()
        .all()
    )
    results: list[Any] = []
    for write in writes:
        state = write.state
        conversation_id = state.conversation_id
        if conversation_id is None:
            if state.question_id not in questions:
                results.append((GONE, None))
                continue
            conversation_id = _create(connection, project_id, state)
        elif conversation_id not in present:
            results.append((GONE, None))
            continue
        changes: dict[str, Any] = {"last_error": None}
        if write.error is not None:
            changes = {"last_error": write.error[:MAX_ERROR_CHARS]}
        else:
            assert write.position is not None and write.values is not None
            connection.execute(
                insert(_turns),
                {
                    "conversation_id": conversation_id,
                    "position": write.position,
                    "role": role_at(write.position),
                    "created_at": utcnow(),
                    **write.values,
                },
            )
            changes["complete"] = write.position + 1 >= turns_planned(state.rounds)
        connection.execute(
            update(_conversations).where(_conversations.c.id == conversation_id).values(changes)
        )
        results.append((STORED, conversation_id))
    return results


class TurnWriter(GroupCommit[_Write, Any]):
    """Group commit of turns (and failures), as AnswerWriter does for answers: what arrives
    together is committed in one transaction; each caller returns once its write is
    committed. A clash with another run (a turn or a conversation it stored first) makes the
    batch go one by one; the clashing one is TAKEN."""

    def __init__(self, store: Store, project_id: int) -> None:
        super().__init__(store.engine, self._commit_batch)
        self.store, self.project_id = store, project_id

    def _commit_batch(self, writes: list[_Write]) -> list[Any]:  # on the writer thread
        try:
            with self.store.engine.begin() as connection:
                return _commit(connection, self.project_id, writes)
        except IntegrityError:
            return [self._commit_one(write) for write in writes]

    def _commit_one(self, write: _Write) -> Any:
        try:
            with self.store.engine.begin() as connection:
                return _commit(connection, self.project_id, [write])[0]
        except IntegrityError:
            return (TAKEN, None)


async def _ask(
    gateway: Gateway,
    context: DistillContext,
    state: ConversationState,
    outcome: TurnOutcome,
    task_id: int | None,
    before_send: BeforeSend | None,
) -> ChatResult | None:
    """The next turn's reply, or None with ``outcome.error`` (or ``gone``) saying why."""
    teacher = role_at(state.next_position) == ASSISTANT
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
            attempt=state.attempt,
            stream=endpoint.stream and teacher,
            before_send=before_send,
        )
    except TargetGone:
        outcome.gone = True
        return None
    except ModelCallError as exc:
        outcome.error = str(exc) or type(exc).__name__
        return None
    outcome.call = result
    if not storable_text(result.content).strip():
        outcome.error = "the model returned an empty turn"
        return None
    return result


def _turn_values(result: ChatResult, teacher: bool, model: str) -> dict[str, Any]:
    return {
        "content": storable_text(result.content).strip(),
        "reasoning": result.reasoning if teacher else None,
        "model": result.model or model,
        "finish_reason": result.finish_reason,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "reasoning_tokens": result.reasoning_tokens,
        "latency_ms": result.latency_ms,
    }


async def advance_conversation(
    store: Store,
    gateway: Gateway,
    context: DistillContext,
    question_id: int,
    *,
    state: ConversationState | None = None,
    writer: TurnWriter | None = None,
    task_id: int | None = None,
    before_send: BeforeSend | None = None,
) -> TurnOutcome:
    """Make the next turn of the question's conversation and commit it; ``state`` is where
    the previous step left it (None: read it from the database). A failure is recorded on
    the conversation, never stored as a turn. ``outcome.state`` is the next step's start."""
    outcome = TurnOutcome(question_id)
    if state is None:
        try:
            state = load_state(store, context, question_id)
        except TargetGone:
            outcome.gone = True
            return outcome
    outcome.conversation_id, outcome.remaining = state.conversation_id, state.remaining
    outcome.state = state
    if state.remaining == 0:
        return outcome
    writer = writer or TurnWriter(store, context.project_id)
    position = state.next_position
    result = await _ask(gateway, context, state, outcome, task_id, before_send)
    if result is None:
        if outcome.error is not None:
            status, _ = await writer.write(_Write(state, error=outcome.error))
            outcome.gone = status == GONE
        return outcome
    teacher = role_at(position) == ASSISTANT
    model = (context.answer_model if teacher else context.user_model).model
    values = _turn_values(result, teacher, model)
    status, conversation_id = await writer.write(_Write(state, position, values))
    if status == GONE:
        outcome.gone = True
        return outcome
    if status == TAKEN:
        # Another run stored this turn (or created the conversation) first: go on from
        # what is stored now.
        try:
            outcome.state = load_state(store, context, question_id)
        except TargetGone:
            outcome.gone = True
            return outcome
        outcome.conversation_id = outcome.state.conversation_id
        outcome.remaining = outcome.state.remaining
        return outcome
    turn = Turn(role_at(position), values["content"], values["reasoning"])
    outcome.state = replace(state, conversation_id=conversation_id, turns=(*state.turns, turn))
    outcome.conversation_id, outcome.position = conversation_id, position
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
    writer = TurnWriter(store, context.project_id)
    state: ConversationState | None = None
    while True:
        outcome = await advance_conversation(
            store, gateway, context, question_id, state=state, writer=writer,
            task_id=task_id, before_send=before_send,
        )  # fmt: skip
        if outcome.error is not None or outcome.gone or outcome.remaining == 0:
            return outcome
        state = outcome.state
