"""Answering a question with the answer model: reasoning and answer stored apart."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from distillset.answers.soft_labels import (
    SOFT_LABELS,
    answer_fields,
    insert_soft_labels,
    replace_soft_labels,
    soft_label_row,
    split_rows,
)
from distillset.domain import ModelCallError
from distillset.generation.context import DistillContext, full_path
from distillset.generation.targets import TargetGone
from distillset.llm import ChatResult, Gateway
from distillset.llm.gateway import BeforeSend
from distillset.llm.writer import GroupCommit, GroupRead
from distillset.prompts import render
from distillset.review.editing import score_values
from distillset.store import Answer, Question, Store, Tag
from distillset.store.models import utcnow
from distillset.tags.tree import tag_path

MAX_ERROR_CHARS = 2_000
# What an insert gives back for a question deleted before its answer could be stored.
QUESTION_GONE = -1
# Marks a row that is one of several samples: it takes its variant, not its question.
_SAMPLE = "_sample"

_answers: Table = Answer.__table__  # type: ignore[assignment]
_questions: Table = Question.__table__  # type: ignore[assignment]
_INSERT_ANSWERS = insert(_answers).returning(_answers.c.id, sort_by_parameter_order=True)
_CLEAR_ERROR = (
    update(_questions).where(_questions.c.id == bindparam("question_id")).values(last_error=None)
)
_ANSWERED = select(_answers.c.id).where(_answers.c.question_id == _questions.c.id).exists()
# The questions that still exist among some ids, and whether each is answered.
_STATE_AMONG = select(_questions.c.id, _ANSWERED).where(
    _questions.c.id.in_(bindparam("ids", expanding=True))
)
# The samples (variants) that exist among some questions' answers.
_VARIANTS_AMONG = select(_answers.c.question_id, _answers.c.variant).where(
    _answers.c.question_id.in_(bindparam("ids", expanding=True))
)
_LOAD_QUESTIONS = select(
    _questions.c.id,
    _questions.c.text,
    _questions.c.tag_id,
    _questions.c.last_error,
    _questions.c.answer_attempt,
    _ANSWERED,
).where(
    _questions.c.id.in_(bindparam("ids", expanding=True)),
    _questions.c.project_id == bindparam("project_id"),
)


@dataclass
class AnswerOutcome:
    question_id: int
    variant: int = 0
    answer_id: int | None = None
    skipped: bool = False  # it was already answered
    gone: bool = False  # the question was deleted: not sent, or its answer not stored
    error: str | None = None
    call: ChatResult | None = None


@dataclass(frozen=True)
class _QuestionToAnswer:
    text: str
    path: str
    answered: bool
    had_error: bool
    attempt: int = 0  # moved on by each deletion of its answer: a new answer is asked fresh


def _load_questions(
    store: Store, context: DistillContext, question_ids: list[int]
) -> list[_QuestionToAnswer | TargetGone]:
    """The questions' texts and states in one short read (TargetGone for one deleted)."""
    params = {"ids": sorted(set(question_ids)), "project_id": context.project_id}
    with store.session() as session:
        found = {row[0]: row[1:] for row in session.connection().execute(_LOAD_QUESTIONS, params)}
        paths: dict[int, str] = {}
        if "{path}" in context.templates["answer"]:
            for tag_id in {row[1] for row in found.values()} - {None}:
                tag = session.get(Tag, tag_id)
                if tag is not None:
                    paths[tag_id] = full_path(context, tag_path(session, tag).labels)
    questions: list[_QuestionToAnswer | TargetGone] = []
    for question_id in question_ids:
        if question_id not in found:
            questions.append(TargetGone("question", question_id))
            continue
        text, tag_id, last_error, attempt, is_answered = found[question_id]
        path = paths.get(tag_id, context.topic)
        answered, had_error = bool(is_answered), last_error is not None
        questions.append(_QuestionToAnswer(text, path, answered, had_error, attempt))
    return questions


class QuestionReader:
    """The questions that many concurrent answers need, read together on a thread: one read
    per question on the event loop stalled every request in flight."""

    def __init__(self, store: Store, context: DistillContext) -> None:
        self._group: GroupRead[int, _QuestionToAnswer] = GroupRead(
            store.engine, partial(_load_questions, store, context)
        )

    async def read(self, question_id: int) -> _QuestionToAnswer:
        return await self._group.read(question_id)


async def _load_question(
    store: Store, context: DistillContext, question_id: int, reader: QuestionReader | None
) -> _QuestionToAnswer:
    """The question's text and state: from the reader, else in one short read here."""
    if reader is not None:
        return await reader.read(question_id)
    question = _load_questions(store, context, [question_id])[0]
    if isinstance(question, TargetGone):
        raise question
    return question


def answer_messages(
    context: DistillContext, question: str, path: str | None = None
) -> list[dict[str, str]]:
    """The request: the project's answer system prompt, if any, then the question."""
    messages = []
    if context.answer_system_prompt:
        messages.append({"role": "system", "content": context.answer_system_prompt})
    content = render(
        context.templates["answer"],
        question=question,
        path=path or context.topic,
        topic=context.topic,
    )
    messages.append({"role": "user", "content": content})
    return messages


def _record_failure(store: Store, question_id: int, error: str) -> None:
    with store.session() as session:
        session.execute(
            update(Question)
            .where(Question.id == question_id)
            .values(last_error=error[:MAX_ERROR_CHARS])
        )


def _sent_fields(context: DistillContext, messages: list[dict[str, str]]) -> dict[str, Any]:
    """What the teacher was sent, kept with its answer so an export gives the same."""
    system = messages[0]["content"] if messages[0]["role"] == "system" else None
    return {
        "system_prompt": system,
        "prompt": messages[-1]["content"],
        "sampling": dict(context.answer_model.body_defaults),
    }


def _reply_fields(
    context: DistillContext, messages: list[dict[str, str]], result: ChatResult
) -> dict[str, Any]:
    """What a reply sets on its answer; it starts unreviewed."""
    return {
        **_sent_fields(context, messages),
        "answer": result.content.strip(),
        "reasoning": result.reasoning,
        "model": result.model or context.answer_model.model,
        "finish_reason": result.finish_reason,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "reasoning_tokens": result.reasoning_tokens,
        "latency_ms": result.latency_ms,
        "confirmed": False,
        "created_at": utcnow(),
        **answer_fields(result),
    }


def _answer_row(
    context: DistillContext,
    question_id: int,
    messages: list[dict[str, str]],
    result: ChatResult,
    variant: int = 0,
) -> dict[str, Any]:
    return {
        "question_id": question_id,
        "project_id": context.project_id,
        "variant": variant,
        "labels": [],
        **_reply_fields(context, messages, result),
    }


async def _ask(
    gateway: Gateway,
    context: DistillContext,
    question: _QuestionToAnswer,
    messages: list[dict[str, str]],
    outcome: AnswerOutcome,
    task_id: int | None,
    before_send: BeforeSend | None = None,
) -> ChatResult | None:
    """The answer model's reply, or None with ``outcome.error`` (or ``gone``) saying why."""
    endpoint = context.answer_model
    try:
        result = await gateway.chat(
            endpoint,
            messages,
            purpose="answer",
            task_id=task_id,
            attempt=question.attempt,
            stream=endpoint.stream,
            before_send=before_send,
            logprobs=endpoint.logprobs,
            variant=outcome.variant,
        )
    except TargetGone:
        outcome.gone = True
        return None
    except ModelCallError as exc:
        outcome.error = str(exc) or type(exc).__name__
        return None
    outcome.call = result
    if not result.content.strip():
        outcome.error = "the model returned an empty answer"
        return None
    return result


def _taken(
    connection: Connection, rows: list[dict[str, Any]], state: dict[int, bool]
) -> set[tuple[int, int | None]]:
    """What is answered already: (question, None) for a question with any answer (a first
    answer is not stored beside it), and (question, variant) for each sample it has."""
    taken: set[tuple[int, int | None]] = {
        (qid, None) for qid, answered in state.items() if answered
    }
    sampled = [row["question_id"] for row in rows if row.get(_SAMPLE)]
    if sampled:
        taken.update(
            ((int(q), int(v)) for q, v in connection.execute(_VARIANTS_AMONG, {"ids": sampled}))
        )
    return taken


def _slot_of(row: dict[str, Any]) -> tuple[int, int | None]:
    """What a row takes: a first answer its question, one of several samples its variant."""
    return (row["question_id"], row["variant"] if row.get(_SAMPLE) else None)


def _insert_answers(
    connection: Connection, rows: list[dict[str, Any]], clear_errors: list[int]
) -> list[int | None]:
    """Insert answers (and their soft labels): a first answer (variant 0) to a question
    answered meanwhile, or a sample whose variant exists, gets None, not a second record;
    one whose question was deleted meanwhile gets QUESTION_GONE."""
    question_ids = [row["question_id"] for row in rows]
    rows_found = connection.execute(_STATE_AMONG, {"ids": question_ids})
    state = {question_id: bool(answered) for question_id, answered in rows_found}
    taken = _taken(connection, rows, state)
    slots = [_slot_of(row) for row in rows]
    rows, soft_labels = split_rows([{k: v for k, v in r.items() if k != _SAMPLE} for r in rows])
    ids: list[int | None] = [None] * len(rows)
    fresh: list[dict[str, Any]] = []
    positions: list[int] = []
    for position, (row, slot) in enumerate(zip(rows, slots, strict=True)):
        if row["question_id"] not in state:
            ids[position] = QUESTION_GONE
        elif slot not in taken:
            taken.add(slot)
            fresh.append(row)
            positions.append(position)
    if fresh:
        # One multi-row Core insert: the ORM's per-row work dominated the answer path.
        inserted = list(connection.execute(_INSERT_ANSWERS, fresh).scalars())
        for position, answer_id in zip(positions, inserted, strict=True):
            ids[position] = answer_id
        insert_soft_labels(connection, inserted, [soft_labels[p] for p in positions])
    for question_id in clear_errors:
        connection.execute(_CLEAR_ERROR, {"question_id": question_id})
    return ids


class AnswerWriter:
    """Group commit: answers that arrive together are stored in one transaction.

    Batches are written on the database's writer thread, so the event loop keeps handing
    out slots meanwhile, and answers that arrive during a commit join the next batch.
    Each caller still returns only after its answer is committed. Losing a batch to a
    crash costs nothing: the model replies are already in the gateway's cache.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._group: GroupCommit[tuple[dict[str, Any], bool], int | None]
        self._group = GroupCommit(store.engine, self._commit)

    async def write(self, row: dict[str, Any], clear_error: bool) -> int | None:
        return await self._group.write((row, clear_error))

    async def drain(self) -> None:
        """Wait until every answer handed over is written (or has failed)."""
        await self._group.drain()

    def _commit(self, batch: list[tuple[dict[str, Any], bool]]) -> list[int | None]:
        rows = [row for row, _clear in batch]
        clear = [int(row["question_id"]) for row, flag in batch if flag]
        try:
            # A bare connection, not a Session: this runs for every few answers.
            with self.store.engine.begin() as connection:
                return _insert_answers(connection, rows, clear)
        except IntegrityError:
            # Another process answered or deleted one of them: store the rest one by one.
            return [_commit_one(self.store, row, flag) for row, flag in batch]


def _commit_one(store: Store, row: dict[str, Any], clear_error: bool) -> int | None:
    """One answer on its own; a clash means answered (None) or deleted (QUESTION_GONE)."""
    clear = [int(row["question_id"])] if clear_error else []
    for _attempt in range(2):  # a clash is read back once: by then the winner is committed
        try:
            with store.engine.begin() as connection:
                return _insert_answers(connection, [row], clear)[0]
        except IntegrityError:
            continue
    return None


async def answer_question(
    store: Store,
    gateway: Gateway,
    context: DistillContext,
    question_id: int,
    *,
    task_id: int | None = None,
    text: str | None = None,
    writer: AnswerWriter | None = None,
    reader: QuestionReader | None = None,
    before_send: BeforeSend | None = None,
) -> AnswerOutcome:
    """Answer one unanswered question; a failure is recorded on the question, never stored.

    ``text`` is given for a question just created (known unanswered, no earlier error), which
    saves a read; ``writer`` batches the writes and ``reader`` the reads of many concurrent
    answers; ``before_send`` is awaited before the request goes out (see the gateway). A
    question deleted meanwhile ends ``gone``: not sent, or (already in flight) its answer
    not stored.
    """
    outcome = AnswerOutcome(question_id)
    if text is None or "{path}" in context.templates["answer"]:
        question = await _load_question(store, context, question_id, reader)
    else:
        question = _QuestionToAnswer(text, context.topic, False, False)
    if question.answered:
        outcome.skipped = True
        return outcome
    messages = answer_messages(context, question.text, question.path)
    result = await _ask(gateway, context, question, messages, outcome, task_id, before_send)
    if result is None:
        if outcome.error is not None:
            _record_failure(store, question_id, outcome.error)
        return outcome
    row = _answer_row(context, question_id, messages, result)
    row[SOFT_LABELS] = await soft_label_row(gateway, context.answer_model, result)
    if writer is not None:
        answer_id = await writer.write(row, question.had_error)
    else:
        answer_id = _commit_one(store, row, question.had_error)
    outcome.gone = answer_id == QUESTION_GONE
    outcome.answer_id = None if outcome.gone else answer_id
    outcome.skipped = answer_id is None
    return outcome


def _variants_of(store: Store, question_id: int) -> set[int]:
    with store.engine.connect() as connection:
        pairs = connection.execute(_VARIANTS_AMONG, {"ids": [question_id]})
        return {variant for _question, variant in pairs}


async def answer_samples(
    store: Store,
    gateway: Gateway,
    context: DistillContext,
    question_id: int,
    samples: int,
    *,
    task_id: int | None = None,
    writer: AnswerWriter | None = None,
    reader: QuestionReader | None = None,
    before_send: BeforeSend | None = None,
) -> list[AnswerOutcome]:
    """Best-of-N: ask for each of the question's samples (variants 0..samples-1) it lacks,
    side by side, each a record of its own. Each sample's request is cached under its
    variant, so the samples differ and a resumed run pays for none twice."""
    question = await _load_question(store, context, question_id, reader)
    missing = [v for v in range(samples) if v not in _variants_of(store, question_id)]
    messages = answer_messages(context, question.text, question.path)

    async def one(variant: int) -> AnswerOutcome:
        outcome = AnswerOutcome(question_id, variant)
        result = await _ask(gateway, context, question, messages, outcome, task_id, before_send)
        if result is None:
            if outcome.error is not None:
                _record_failure(store, question_id, outcome.error)
            return outcome
        row = _answer_row(context, question_id, messages, result, variant) | {_SAMPLE: True}
        row[SOFT_LABELS] = await soft_label_row(gateway, context.answer_model, result)
        if writer is not None:
            answer_id = await writer.write(row, question.had_error)
        else:
            answer_id = _commit_one(store, row, question.had_error)
        outcome.gone = answer_id == QUESTION_GONE
        outcome.answer_id = None if outcome.gone else answer_id
        outcome.skipped = answer_id is None
        return outcome

    return list(await asyncio.gather(*(one(variant) for variant in missing)))


async def resample_answer(
    store: Store,
    gateway: Gateway,
    context: DistillContext,
    question_id: int,
    answer_id: int,
    *,
    task_id: int | None = None,
    before_send: BeforeSend | None = None,
) -> AnswerOutcome:
    """Replace an answer with a new sample (pass a gateway that skips its cache); the old
    answer stays when the call fails. The new text starts unreviewed: a confirmation or a
    score judged the old one. An answer deleted meanwhile ends ``gone``."""
    outcome = AnswerOutcome(question_id)
    question = await _load_question(store, context, question_id, None)
    messages = answer_messages(context, question.text, question.path)
    result = await _ask(gateway, context, question, messages, outcome, task_id, before_send)
    if result is None:
        return outcome
    values = {**_reply_fields(context, messages, result), **score_values(None, None)}
    soft_labels = await soft_label_row(gateway, context.answer_model, result)
    with store.engine.begin() as connection:
        replaced = connection.execute(
            update(_answers).where(_answers.c.id == answer_id).values(values)
        ).rowcount
        if replaced:
            replace_soft_labels(connection, answer_id, soft_labels)
    outcome.gone = replaced == 0
    outcome.answer_id = None if outcome.gone else answer_id
    return outcome


async def answer_again(
    store: Store,
    gateway: Gateway,
    context: DistillContext,
    question_id: int,
    *,
    task_id: int | None = None,
    before_send: BeforeSend | None = None,
) -> AnswerOutcome:
    """A new sample for the question: it replaces the question's first answer, or answers
    a question that has none."""
    with store.session() as session:
        answer_id = first_answer_id(session, question_id)
    if answer_id is None:
        return await answer_question(
            store, gateway, context, question_id, task_id=task_id, before_send=before_send
        )
    return await resample_answer(
        store, gateway, context, question_id, answer_id, task_id=task_id, before_send=before_send
    )


def first_answer_id(session: Session, question_id: int) -> int | None:
    """The answer a question shows first (its lowest variant), if it has one."""
    return session.scalar(
        select(_answers.c.id)
        .where(_answers.c.question_id == question_id)
        .order_by(_answers.c.variant, _answers.c.id)
        .limit(1)
    )
