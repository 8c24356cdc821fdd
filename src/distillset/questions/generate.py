"""Generating questions for a tag, top-up style, unique across the project."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Table, bindparam, insert, select
from sqlalchemy.orm import Session

from distillset.domain import (
    PATH_SEPARATOR,
    InvalidInputError,
    Origin,
    strip_numbering,
    text_hash,
)
from distillset.generation.context import DistillContext, full_path
from distillset.generation.dedup import pick_new
from distillset.generation.semantic_guard import Screen
from distillset.generation.targets import Kind, TargetGone
from distillset.generation.topup import ItemWriter, StepOutcome, bullet_list, top_up
from distillset.llm import Gateway
from distillset.llm.gateway import BeforeSend
from distillset.prompts import render
from distillset.store import Question, Store, Tag
from distillset.store.models import utcnow
from distillset.tags.tree import tag_path

MIN_QUESTION_CHARS = 4
MAX_QUESTION_CHARS = 4_000
_SPACES = re.compile(r"\s+")

_questions: Table = Question.__table__  # type: ignore[assignment]
_TAG_QUESTIONS = (
    select(_questions.c.text)
    .where(_questions.c.tag_id == bindparam("tag_id"))
    .order_by(_questions.c.id)
)
_TAKEN_HASHES = select(_questions.c.text_hash).where(
    _questions.c.project_id == bindparam("project_id"),
    _questions.c.text_hash.in_(bindparam("hashes", expanding=True)),
)
_INSERT_QUESTIONS = insert(_questions).returning(_questions.c.id, sort_by_parameter_order=True)


def clean_question(text: str) -> str:
    question = strip_numbering(_SPACES.sub(" ", text).strip()).strip("\"'`“”‘’ ")
    return question if MIN_QUESTION_CHARS <= len(question) <= MAX_QUESTION_CHARS else ""


@dataclass
class QuestionListStep:
    context: DistillContext
    tag_id: int
    path: str
    model_alias: str
    purpose: str = "questions"
    # The tag's path (topic first): a question that only repeats it, or one of its labels,
    # asks nothing.
    ancestors: tuple[str, ...] = ()

    def _forbidden(self) -> list[str]:
        labels = self.ancestors
        return [*labels, self.path, PATH_SEPARATOR.join(labels[1:])]

    def target(self) -> tuple[Kind, int]:
        return "tag", self.tag_id

    def existing(self, connection: Connection) -> list[str]:
        rows = connection.execute(_TAG_QUESTIONS, {"tag_id": self.tag_id})
        return list(rows.scalars())

    def messages(self, existing: Sequence[str], need: int) -> list[dict[str, str]]:
        prompt = render(
            self.context.templates["questions"],
            path=self.path,
            count=need,
            existing=bullet_list(existing, self.context.language),
            topic=self.context.topic,
        )
        return [{"role": "user", "content": prompt}]

    def choose(
        self, connection: Connection, candidates: Sequence[str], existing: Sequence[str], need: int
    ) -> list[str]:
        cleaned = [clean_question(text) for text in candidates]
        hashes = {text_hash(text) for text in cleaned if text}
        # A question already stored anywhere in the project is not stored twice.
        parameters = {"project_id": self.context.project_id, "hashes": list(hashes)}
        taken = set(connection.execute(_TAKEN_HASHES, parameters).scalars())
        fresh = [text for text in cleaned if text and text_hash(text) not in taken]
        return pick_new(fresh, existing, need, forbidden=self._forbidden())

    def insert(self, connection: Connection, items: Sequence[str]) -> list[int]:
        if not items:
            return []
        now = utcnow()
        rows = [
            {
                "project_id": self.context.project_id,
                "tag_id": self.tag_id,
                "text": text,
                "text_hash": text_hash(text),
                "origin": Origin.DISTILLED.value,
                "model": self.model_alias,
                "last_error": None,
                "created_at": now,
            }
            for text in items
        ]
        # One multi-row Core insert: the ORM's per-object work showed in the benchmark.
        return list(connection.execute(_INSERT_QUESTIONS, rows).scalars())


def question_step(
    session: Session,
    context: DistillContext,
    tag_id: int,
    labels: tuple[str, ...] | None = None,
) -> QuestionListStep:
    """The step for a tag; ``labels`` (its path, when the caller knows it) saves reads."""
    if labels is not None:
        return _step(context, tag_id, labels)
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise TargetGone("tag", tag_id)
    if tag.project_id != context.project_id:
        raise InvalidInputError(f"tag {tag_id} is not in project {context.project_name!r}")
    return _step(context, tag_id, tuple(tag_path(session, tag).labels))


def _step(context: DistillContext, tag_id: int, labels: tuple[str, ...]) -> QuestionListStep:
    path = full_path(context, labels)
    alias = context.question_model.alias
    return QuestionListStep(context, tag_id, path, alias, ancestors=(context.topic, *labels))


async def generate_questions(
    store: Store,
    gateway: Gateway,
    context: DistillContext,
    tag_id: int,
    count: int,
    *,
    task_id: int | None = None,
    labels: tuple[str, ...] | None = None,
    before_send: BeforeSend | None = None,
    screen: Screen | None = None,
    writer: ItemWriter | None = None,
) -> StepOutcome:
    """Top the tag's questions up to ``count``: only the missing ones are created (and with
    ``screen``, only those it lets through: see generation.semantic_guard)."""
    if labels is not None:
        step = _step(context, tag_id, labels)
    else:
        with store.session() as session:
            step = question_step(session, context, tag_id)
    endpoint = context.question_model
    return await top_up(
        store,
        gateway,
        endpoint,
        step,
        count,
        task_id=task_id,
        before_send=before_send,
        screen=screen,
        writer=writer,
    )
