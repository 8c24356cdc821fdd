"""Auto-tagging imported questions: the question model places each on the leaf of the tree
it fits best, in batches (one prompt lists the leaf paths and a batch of questions), as a
resumable task.

The task covers the questions an import created under its tag (their id range): what it has
left is those still there, so a resumed task asks only about questions not placed yet. A
reply that names a path that is not a leaf of the tree, or leaves a question out, fails
that question with the reason — it stays where the import put it, never misplaced.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import json_repair
from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, aliased

from distillset.config import Settings
from distillset.domain import (
    PATH_SEPARATOR,
    InvalidInputError,
    ModelCallError,
    NotFoundError,
    Origin,
    TaskKind,
    TaskStatus,
    normalize_text,
)
from distillset.generation.item_run import ItemRun
from distillset.llm import EndpointConfig, Gateway, LimitSettings, ModelOutputError
from distillset.llm.reasoning import split_inline
from distillset.projects.endpoints import endpoint_config, get_endpoint
from distillset.prompts import get_prompt, render
from distillset.review.imports import DEFAULT_IMPORT_TAG
from distillset.runs.kinds import ProgressCallback, Stage, TaskKindSpec
from distillset.runs.progress import StageProgress, initial_counters
from distillset.runs.runner import reads_cache, set_budget
from distillset.store import Project, Question, Store, Tag, TagPaths, Task
from distillset.tags.tree import find_tag

STAGE = "placed"
AUTO_TAG_STAGES = (Stage(STAGE, "Placed"),)
BATCH_SIZE = 20
# More leaves than this do not fit a prompt well: the tree is refused with what to do.
MAX_LEAVES = 500
PARSE_ATTEMPTS = 2
PLACEMENTS_SCHEMA = {
    "type": "object",
    "properties": {
        "placements": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"question": {"type": "integer"}, "leaf": {"type": "string"}},
                "required": ["question", "leaf"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["placements"],
    "additionalProperties": False,
}
_OBJECT = re.compile(r"[\[{].*[\]}]", re.DOTALL)


def placements_format(structured_output: str) -> dict[str, Any] | None:
    if structured_output == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "placements", "schema": PLACEMENTS_SCHEMA, "strict": True},
        }
    if structured_output == "json_object":
        return {"type": "json_object"}
    return None


def parse_placements(text: str) -> dict[int, str]:
    """Question number -> the leaf path the reply names; ModelOutputError when the reply
    holds no placements at all."""
    _, answer = split_inline(text or "")
    match = _OBJECT.search(answer)
    data = json_repair.loads(match.group()) if match else None
    entries = data.get("placements") if isinstance(data, dict) else data
    placed: dict[int, str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        number, leaf = entry.get("question"), entry.get("leaf")
        if isinstance(number, str) and number.strip().isdigit():
            number = int(number)
        if isinstance(number, int) and not isinstance(number, bool) and isinstance(leaf, str):
            placed.setdefault(number, leaf)
    if not placed:
        snippet = " ".join(answer.split())[:120]
        raise ModelOutputError(f"no placements found in the model reply: {snippet!r}")
    return placed


def leaf_paths(session: Session, project: Project, exclude: int | None = None) -> dict[int, str]:
    """The leaves of the project's tree (tags without children) by id, with their paths;
    ``exclude``: a tag that is not a place (the one the questions are imported under)."""
    child = aliased(Tag)
    ids = session.scalars(
        select(Tag.id)
        .where(Tag.project_id == project.id, ~exists().where(child.parent_id == Tag.id))
        .order_by(Tag.id)
    ).all()
    paths = TagPaths(session, project.id)
    return {tag_id: paths.path(tag_id) for tag_id in ids if tag_id != exclude}


def _checked_leaves(session: Session, project: Project, from_tag: int) -> dict[int, str]:
    leaves = leaf_paths(session, project, exclude=from_tag)
    if not leaves:
        raise InvalidInputError(
            "auto-tag needs a tree to place questions on, and this project has no leaf tag "
            "besides the import's: add tags first (`distillset tags add` or `tags generate`)"
        )
    if len(leaves) > MAX_LEAVES:
        raise InvalidInputError(
            f"the tree has {len(leaves)} leaves; auto-tag lists at most {MAX_LEAVES} in a "
            "prompt: import without --auto-tag and move questions by tag (`questions move`)"
        )
    return leaves


def _question_alias(project: Project, model: str | None) -> str:
    if model:
        return model
    if project.question_model is not None:
        return project.question_model.alias
    raise InvalidInputError(
        f"no question model to place questions with: pass --model ALIAS or set the project's "
        f"(`distillset project set {project.name!r} --question-model ALIAS`)"
    )


def _in_range(params: dict[str, Any]) -> tuple[Any, ...]:
    """The import's questions (its new ids, marked imported) in the task's project."""
    return (
        Question.project_id == params["project_id"],
        Question.id >= params["first_id"],
        Question.id <= params["last_id"],
        Question.origin == Origin.IMPORTED.value,
    )


def _left(params: dict[str, Any]) -> tuple[Any, ...]:
    """The questions the task has left: those of its range still under the import tag."""
    return (*_in_range(params), Question.tag_id == params["from_tag_id"])


def _count(session: Session, conditions: tuple[Any, ...]) -> int:
    return int(session.scalar(select(func.count()).where(*conditions)) or 0)


def create_auto_tag_task(
    session: Session,
    project: Project,
    *,
    from_tag_id: int,
    question_ids: list[int],
    model: str | None = None,
    max_cost: float | None = None,
) -> Task | None:
    """A queued task placing these questions (an import's new ones, all under
    ``from_tag_id``) on leaves of the tree (``max_cost``: its budget); None when there are
    none."""
    if not question_ids:
        return None
    tag = session.get(Tag, from_tag_id)
    if tag is None or tag.project_id != project.id:
        raise NotFoundError(f"no tag with id {from_tag_id} in project {project.name!r}")
    alias = get_endpoint(session, _question_alias(project, model)).alias
    _checked_leaves(session, project, from_tag_id)
    params = {
        "model": alias,
        "project_id": project.id,
        "from_tag_id": from_tag_id,
        "first_id": min(question_ids),
        "last_id": max(question_ids),
    }
    planned = _count(session, _left(params))
    task = Task(
        project_id=project.id,
        kind=TaskKind.AUTO_TAG.value,
        params=params,
        status=TaskStatus.QUEUED.value,
        counters=initial_counters({STAGE: planned}),
    )
    set_budget(task, max_cost)
    session.add(task)
    session.flush()
    return task


def check_auto_tag(session: Session, project: Project, model: str | None, into: str | None) -> None:
    """Refuse an auto-tag before the import writes anything: it needs a model, and a leaf
    to place on besides the tag the import fills (the path ``into``; None: the default
    import tag)."""
    get_endpoint(session, _question_alias(project, model))
    try:
        into_id = find_tag(session, project, into or DEFAULT_IMPORT_TAG).id
    except NotFoundError:
        into_id = -1  # made by the import: not a leaf of the tree yet
    _checked_leaves(session, project, into_id)


@dataclass(frozen=True)
class _Question:
    id: int
    text: str


@dataclass
class _Setup:
    project: Project
    endpoint: EndpointConfig
    template: str
    params: dict[str, Any]
    leaves: dict[str, int]  # normalized path -> tag id
    listing: str  # the leaves as the prompt lists them


def _key(path: str) -> str:
    return PATH_SEPARATOR.join(normalize_text(part) for part in path.split(">"))


class AutoTagRun(ItemRun):
    """One run of an auto-tag task in this process."""

    setup: _Setup | None = None

    def new_progress(self) -> StageProgress:
        return StageProgress([STAGE])

    def prepare(self) -> None:
        with self.store.session() as session:
            task = self.claim(session, TaskKind.AUTO_TAG)
            project = session.get(Project, task.project_id)
            assert project is not None
            params = dict(task.params)
            self.use_cache = self.use_cache and reads_cache(params)
            endpoint = endpoint_config(get_endpoint(session, params["model"]), self.settings)
            leaves = _checked_leaves(session, project, params["from_tag_id"])
            remaining = _count(session, _left(params))
            self.progress.load(task.counters or {})
            counts = self.progress.stage(STAGE)
            # Placed is what left the import tag (a run stopped mid-write may not have
            # counted all it moved); earlier failures are open work again.
            placed = (*_in_range(params), Question.tag_id != params["from_tag_id"])
            counts.done = _count(session, placed)
            counts.planned, counts.failed, counts.skipped = counts.done + remaining, 0, 0
            task.counters = self.counters()
            self.event(f"started: {remaining} questions to place on {len(leaves)} leaves")
            self.limits = LimitSettings.from_project(project)
            self.project_id = project.id
            topic = project.topic
            # A path may lead with the topic (as `tags tree` shows it): both are accepted.
            keys = {_key(path): tag_id for tag_id, path in leaves.items()}
            keys.update({_key(f"{topic} > {path}"): tag_id for tag_id, path in leaves.items()})
            self.setup = _Setup(
                project=project,
                endpoint=endpoint,
                template=get_prompt(session, project, "place").template,
                params=params,
                leaves=keys,
                listing="\n".join(f"- {path}" for path in leaves.values()),
            )

    def failure_event(self, failed: int) -> tuple[str, str]:
        return (
            f"{failed} questions could not be placed and stay under the import tag "
            "(run again to retry)",
            "warning",
        )

    async def items(self) -> AsyncIterator[list[_Question]]:
        setup = self.setup
        assert setup is not None
        after = 0
        while True:
            with self.store.session() as session:
                rows = session.execute(
                    select(Question.id, Question.text)
                    .where(*_left(setup.params), Question.id > after)
                    .order_by(Question.id)
                    .limit(BATCH_SIZE)
                ).all()
            if not rows:
                return
            yield [_Question(question_id, text) for question_id, text in rows]
            after = rows[-1][0]

    async def handle(self, gateway: Gateway, item: Any) -> None:
        setup = self.setup
        assert setup is not None
        batch: list[_Question] = item
        numbered = "\n".join(
            f"{number}. {' '.join(q.text.split())}" for number, q in enumerate(batch, 1)
        )
        prompt = render(
            setup.template,
            leaves=setup.listing,
            questions=numbered,
            topic=setup.project.topic,
        )
        error = "no placements in the reply"
        placed: dict[int, str] | None = None
        for attempt in range(PARSE_ATTEMPTS):
            try:
                result = await gateway.chat(
                    setup.endpoint,
                    [{"role": "user", "content": prompt}],
                    purpose="auto_tag",
                    task_id=self.task_id,
                    attempt=attempt,
                    response_format=placements_format(setup.endpoint.structured_output),
                )
                placed = parse_placements(result.content)
                break
            except ModelCallError as exc:  # ModelOutputError included: ask again
                error = str(exc)
                if exc.status is not None:
                    break
        if placed is None:
            for question in batch:
                self._fail(question.id, error)
            return
        moves: dict[int, int] = {}
        for number, question in enumerate(batch, 1):
            leaf = placed.get(number)
            tag_id = setup.leaves.get(_key(leaf)) if leaf is not None else None
            if leaf is None:
                self._fail(question.id, "the reply placed it nowhere")
            elif tag_id is None:
                self._fail(
                    question.id, f"the reply names {leaf!r}, which is not a leaf of the tree"
                )
            else:
                moves[question.id] = tag_id
        if moves:
            moved = await asyncio.to_thread(self._move, setup, moves)
            self.progress.add_done(STAGE, moved)
            gone = len(moves) - moved
            if gone:
                self.progress.drop_planned(STAGE, gone)  # deleted or moved by hand meanwhile

    def _fail(self, question_id: int, reason: str) -> None:
        message = f"question {question_id}: {reason}"
        self.progress.add_failed(STAGE, 1, message)
        self.event(message, "error")

    def _move(self, setup: _Setup, moves: dict[int, int]) -> int:
        """Move each question still under the import tag to its leaf; how many moved."""
        moved = 0
        with self.store.session() as session:
            connection = session.connection()
            for question_id, tag_id in moves.items():
                moved += connection.execute(
                    update(Question)
                    .where(Question.id == question_id, *_left(setup.params))
                    .values(tag_id=tag_id)
                ).rowcount
        return moved


async def run_auto_tag_task(
    store: Store,
    settings: Settings,
    task_id: int,
    *,
    cancel_event: asyncio.Event | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    run = AutoTagRun(store, settings, task_id, cancel_event=cancel_event, on_progress=on_progress)
    return await run.run()


AUTO_TAG_KIND = TaskKindSpec(TaskKind.AUTO_TAG.value, AUTO_TAG_STAGES, AutoTagRun)
