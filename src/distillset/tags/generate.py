"""Generating sub-tags of a tag (or top-level tags of the topic), top-up style."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Table, bindparam, func, insert, select
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError, Origin, clean_label, normalize_text
from distillset.generation.context import DistillContext, full_path
from distillset.generation.dedup import pick_new
from distillset.generation.targets import Kind, TargetGone
from distillset.generation.topup import ItemWriter, StepOutcome, bullet_list, top_up
from distillset.llm import Gateway
from distillset.llm.gateway import BeforeSend
from distillset.prompts import render
from distillset.store import Store, Tag
from distillset.store.models import utcnow
from distillset.tags.tree import MAX_LABEL_LENGTH, MAX_TAG_DEPTH, tag_path

_tags: Table = Tag.__table__  # type: ignore[assignment]
_IN_PROJECT = _tags.c.project_id == bindparam("project_id")
_IS_ROOT = _tags.c.parent_id.is_(None)
_IS_CHILD = _tags.c.parent_id == bindparam("parent_id")
_ORDER = (_tags.c.position, _tags.c.id)
_ROOT_LABELS = select(_tags.c.label).where(_IN_PROJECT, _IS_ROOT).order_by(*_ORDER)
_CHILD_LABELS = select(_tags.c.label).where(_IN_PROJECT, _IS_CHILD).order_by(*_ORDER)
_LAST = func.coalesce(func.max(_tags.c.position), -1)
_ROOT_LAST_POSITION = select(_LAST).where(_IN_PROJECT, _IS_ROOT)
_CHILD_LAST_POSITION = select(_LAST).where(_IN_PROJECT, _IS_CHILD)
_INSERT_TAGS = insert(_tags).returning(_tags.c.id, sort_by_parameter_order=True)


def _usable_label(text: str) -> str:
    label = clean_label(text)
    return label if len(label) <= MAX_LABEL_LENGTH else ""


@dataclass
class TagListStep:
    context: DistillContext
    parent_id: int | None
    path: str
    depth: int
    purpose: str = "tags"
    # The topic and the parent's path: a child that repeats one of them is no sub-topic.
    ancestors: tuple[str, ...] = ()

    def target(self) -> tuple[Kind, int]:
        if self.parent_id is None:
            return "project", self.context.project_id
        return "tag", self.parent_id

    def existing(self, connection: Connection) -> list[str]:
        """Sibling labels in position order (Core: this runs for every expansion)."""
        statement = _ROOT_LABELS if self.parent_id is None else _CHILD_LABELS
        parameters = {"project_id": self.context.project_id, "parent_id": self.parent_id}
        return list(connection.execute(statement, parameters).scalars())

    def messages(self, existing: Sequence[str], need: int) -> list[dict[str, str]]:
        prompt = render(
            self.context.templates["tags"],
            path=self.path,
            count=need,
            existing=bullet_list(existing, self.context.language),
            topic=self.context.topic,
        )
        return [{"role": "user", "content": prompt}]

    def choose(
        self, connection: Connection, candidates: Sequence[str], existing: Sequence[str], need: int
    ) -> list[str]:
        return pick_new(candidates, existing, need, clean=_usable_label, forbidden=self.ancestors)

    def insert(self, connection: Connection, items: Sequence[str]) -> list[int]:
        if not items:
            return []
        statement = _ROOT_LAST_POSITION if self.parent_id is None else _CHILD_LAST_POSITION
        parameters = {"project_id": self.context.project_id, "parent_id": self.parent_id}
        last = int(connection.execute(statement, parameters).scalar() or 0)
        now = utcnow()
        rows = [
            {
                "project_id": self.context.project_id,
                "parent_id": self.parent_id,
                "label": label,
                "label_key": normalize_text(label),
                "position": last + offset,
                "depth": self.depth,
                "origin": Origin.GENERATED.value,
                "created_at": now,
            }
            for offset, label in enumerate(items, start=1)
        ]
        return list(connection.execute(_INSERT_TAGS, rows).scalars())


def _step_without_reads(
    context: DistillContext, parent_id: int | None, labels: tuple[str, ...] | None
) -> TagListStep | None:
    if parent_id is None:
        return TagListStep(context, None, context.topic, 1, ancestors=(context.topic,))
    if labels is not None:
        return _child_step(context, parent_id, labels)
    return None


def _child_step(context: DistillContext, parent_id: int, labels: tuple[str, ...]) -> TagListStep:
    path = full_path(context, labels)
    return TagListStep(
        context, parent_id, path, len(labels) + 1, ancestors=(context.topic, *labels)
    )


def tag_step(
    session: Session,
    context: DistillContext,
    parent_id: int | None,
    labels: tuple[str, ...] | None = None,
) -> TagListStep:
    """The step for a parent; ``labels`` (its path, when the caller knows it) saves reads."""
    known = _step_without_reads(context, parent_id, labels)
    if known is not None:
        return known
    assert parent_id is not None  # the topic's step needs no reads
    parent = session.get(Tag, parent_id)
    if parent is None:
        raise TargetGone("tag", parent_id)
    if parent.project_id != context.project_id:
        raise InvalidInputError(f"tag {parent_id} is not in project {context.project_name!r}")
    if parent.depth + 1 > MAX_TAG_DEPTH:
        raise InvalidInputError(f"the tree may be at most {MAX_TAG_DEPTH} levels deep")
    return _child_step(context, parent.id, tuple(tag_path(session, parent).labels))


async def generate_tags(
    store: Store,
    gateway: Gateway,
    context: DistillContext,
    parent_id: int | None,
    count: int,
    *,
    task_id: int | None = None,
    labels: tuple[str, ...] | None = None,
    before_send: BeforeSend | None = None,
    writer: ItemWriter | None = None,
) -> StepOutcome:
    """Top the parent's children up to ``count``: only the missing ones are created."""
    step = _step_without_reads(context, parent_id, labels)
    if step is None:
        with store.session() as session:
            step = tag_step(session, context, parent_id)
    endpoint = context.question_model
    return await top_up(
        store,
        gateway,
        endpoint,
        step,
        count,
        task_id=task_id,
        before_send=before_send,
        writer=writer,
    )
