"""Generating sub-tags of a tag (or top-level tags of the topic), top-up style."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distillset.distill.context import DistillContext
from distillset.distill.dedup import pick_new
from distillset.distill.topup import StepOutcome, bullet_list, top_up
from distillset.domain import PATH_SEPARATOR, InvalidInputError, Origin, clean_label, normalize_text
from distillset.llm import Gateway
from distillset.prompts import render
from distillset.services.tags import MAX_LABEL_LENGTH, MAX_TAG_DEPTH, children, tag_path
from distillset.store import Store, Tag
from distillset.store.models import utcnow


def full_path(context: DistillContext, labels: Sequence[str]) -> str:
    """The path as the model sees it: always from the topic down."""
    return PATH_SEPARATOR.join([context.topic, *labels])


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

    def existing(self, session: Session) -> list[str]:
        return [tag.label for tag in children(session, self.context.project_id, self.parent_id)]

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
        self, session: Session, candidates: Sequence[str], existing: Sequence[str], need: int
    ) -> list[str]:
        return pick_new(candidates, existing, need, clean=_usable_label)

    def insert(self, session: Session, items: Sequence[str]) -> list[int]:
        parent = (
            Tag.parent_id.is_(None) if self.parent_id is None else Tag.parent_id == self.parent_id
        )
        last = session.scalar(
            select(func.coalesce(func.max(Tag.position), -1)).where(
                Tag.project_id == self.context.project_id, parent
            )
        )
        now = utcnow()
        tags = [
            Tag(
                project_id=self.context.project_id,
                parent_id=self.parent_id,
                label=label,
                label_key=normalize_text(label),
                position=int(last if last is not None else -1) + offset,
                depth=self.depth,
                origin=Origin.GENERATED.value,
                created_at=now,
            )
            for offset, label in enumerate(items, start=1)
        ]
        session.add_all(tags)
        session.flush()
        return [tag.id for tag in tags]


def tag_step(
    session: Session,
    context: DistillContext,
    parent_id: int | None,
    labels: tuple[str, ...] | None = None,
) -> TagListStep:
    """The step for a parent; ``labels`` (its path, when the caller knows it) saves reads."""
    if parent_id is None:
        return TagListStep(context, None, context.topic, 1)
    if labels is not None:
        return TagListStep(context, parent_id, full_path(context, labels), len(labels) + 1)
    parent = session.get(Tag, parent_id)
    if parent is None or parent.project_id != context.project_id:
        raise InvalidInputError(f"tag {parent_id} is not in project {context.project_name!r}")
    if parent.depth + 1 > MAX_TAG_DEPTH:
        raise InvalidInputError(f"the tree may be at most {MAX_TAG_DEPTH} levels deep")
    labels = tag_path(session, parent).labels
    return TagListStep(context, parent_id, full_path(context, labels), parent.depth + 1)


async def generate_tags(
    store: Store,
    gateway: Gateway,
    context: DistillContext,
    parent_id: int | None,
    count: int,
    *,
    task_id: int | None = None,
    labels: tuple[str, ...] | None = None,
) -> StepOutcome:
    """Top the parent's children up to ``count``: only the missing ones are created."""
    with store.session() as session:
        step = tag_step(session, context, parent_id, labels)
    return await top_up(store, gateway, context.question_model, step, count, task_id=task_id)
