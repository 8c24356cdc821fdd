"""A shared distillation job's tree work as items (see ``runs.shared``): which steps can be
shared, and the items an expansion or a question top-up leads to.

What follows a step is read from what is stored, not from what the step just created: a
worker that dies after storing a tag's children (or a leaf's questions) and before adding
their items leaves the step to be done again, and that second run creates nothing new (the
top-up counts what is stored) yet must still add the items of what the first one made.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distillset.auto.plan import JobSpec, WorkItem, missing_samples
from distillset.runs.shared import ANSWER, EXPAND, QUESTIONS, Item
from distillset.store import Question, Tag

# The item target of an expansion of the project's top level (tag ids start at 1).
TOP_LEVEL = 0


def shares_answers(spec: JobSpec) -> bool:
    """Whether the job's single answers can be items (not resamples, nor batched answers,
    which wait in a provider's batch owned by one process)."""
    return spec.singles and spec.resample_before is None and not spec.batch_answers


def shares_tree(spec: JobSpec) -> bool:
    """Whether the job's expansions and question top-ups can be items: not where new
    questions start conversations (their turns run in the process that made them) or pass a
    semantic screen (it compares with what this process has seen), nor where the answers
    could not follow them as items."""
    return (
        not spec.conversations
        and spec.semantic_dedup is None
        and (shares_answers(spec) or not spec.singles)
    )


def planned_items(spec: JobSpec, ready: WorkItem) -> tuple[list[Item], WorkItem]:
    """The ready work that becomes the job's items, and what is left to the run itself."""
    items: list[Item] = []
    if shares_tree(spec):
        items += [(EXPAND, target_of(tag_id)) for tag_id in ready.expand]
        items += [(QUESTIONS, tag_id) for tag_id in ready.questions]
        ready = WorkItem(conversations=ready.conversations, answers=ready.answers)
    if shares_answers(spec):
        items += [(ANSWER, question_id) for question_id in ready.answers]
        ready = WorkItem(
            expand=ready.expand, questions=ready.questions, conversations=ready.conversations
        )
    return items, ready


def target_of(tag_id: int | None) -> int:
    return TOP_LEVEL if tag_id is None else tag_id


def tag_of(target: int) -> int | None:
    return None if target == TOP_LEVEL else target


def tag_depths(session: Session, targets: list[int]) -> dict[int, int]:
    """The depth of each expansion target (the top level is 0)."""
    depths = {TOP_LEVEL: 0} if TOP_LEVEL in targets else {}
    tags = [target for target in targets if target != TOP_LEVEL]
    if tags:
        rows = session.execute(select(Tag.id, Tag.depth).where(Tag.id.in_(tags)))
        depths.update({tag_id: int(depth) for tag_id, depth in rows})
    return depths


def after_expansion(
    session: Session,
    project_id: int,
    spec: JobSpec,
    parent_id: int | None,
    child_depth: int,
    leaf_depth: int,
) -> list[Item]:
    """The items that follow an expansion: each child still short of its children (above
    the leaf level) or of its questions (a leaf). A child that is not short was there before
    the job planned, which covered it (the items of what this job makes are added as it makes
    it: a full child has had its item)."""
    parent = Tag.parent_id.is_(None) if parent_id is None else Tag.parent_id == parent_id
    children = list(
        session.scalars(select(Tag.id).where(Tag.project_id == project_id, parent).order_by(Tag.id))
    )
    if not children:
        return []
    if child_depth < leaf_depth:
        query = (
            select(Tag.parent_id, func.count(Tag.id))
            .where(Tag.parent_id.in_(children))
            .group_by(Tag.parent_id)
        )
        wanted, stage = spec.tags_per_level, EXPAND
    elif spec.questions_per_leaf:
        query = (
            select(Question.tag_id, func.count(Question.id))
            .where(Question.tag_id.in_(children))
            .group_by(Question.tag_id)
        )
        wanted, stage = spec.questions_per_leaf, QUESTIONS
    else:
        return []
    counts = {row_id: int(count) for row_id, count in session.execute(query)}
    return [(stage, child) for child in children if counts.get(child, 0) < wanted]


def after_questions(session: Session, project_id: int, spec: JobSpec, tag_id: int) -> list[int]:
    """The questions of a leaf still short of answers, once its top-up ran: those it made,
    and those a worker that died made before it could add their items."""
    if not shares_answers(spec):
        return []
    short = missing_samples(project_id, spec.samples).subquery()
    return list(
        session.scalars(
            select(Question.id)
            .join(short, short.c.id == Question.id)
            .where(Question.tag_id == tag_id)
            .order_by(Question.id)
        )
    )
