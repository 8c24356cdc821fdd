"""Generation started from a page or an API call and awaited there (tags, questions, one answer).

Each is a task row run by the server's runner, as a job started from the CLI: it has
progress, cancel and resume, and the same refusals. A job that names one item (a tag's
sub-tags, one answer) runs beside other jobs of its kind on other items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distillset.answers import first_answer_id
from distillset.auto import PlannedJob, create_answers_job, create_questions_job, create_tags_job
from distillset.config import Settings
from distillset.domain import ModelCallError
from distillset.generation import TargetGone
from distillset.llm import probe_endpoint
from distillset.projects import endpoint_config, get_endpoint
from distillset.runs import get_task
from distillset.store import Store, Tag
from distillset.web.deps import optional_tag, project_by_id, question_in_project, tag_in_project
from distillset.web.runner import TaskRunner


@dataclass
class Generated:
    """What a generation created, for the preview, and why it fell short if it did."""

    created: list[int] = field(default_factory=list)
    wanted: int = 0
    error: str | None = None
    skipped: int = 0


async def _run(runner: TaskRunner, job: PlannedJob, stage: str) -> Generated:
    await runner.run_to_end(job.task_id)
    with runner.store.session() as session:
        task = get_task(session, job.task_id)
        counters: dict[str, Any] = task.counters or {}
        last_error = task.last_error
    counts = counters.get(stage) or {}
    created = [int(i) for i in (counters.get("created") or {}).get(stage, [])]
    error = counters.get("last_error") or last_error
    if len(created) >= int(counts.get("planned", 0)):
        error = None  # everything wanted was made; an earlier attempt's error is history
    return Generated(created, int(counts.get("planned", 0)), error, int(counts.get("skipped", 0)))


def _check_still_there(store: Store, tag_id: int | None) -> None:
    """A tag deleted while the request waited: its work was skipped, and the reply says so."""
    if tag_id is not None:
        with store.session() as session:
            if session.get(Tag, tag_id) is None:
                raise TargetGone("tag", tag_id)


async def add_sub_tags(
    runner: TaskRunner,
    settings: Settings,
    project_id: int,
    parent_id: int | None,
    count: int,
    max_cost: float | None = None,
) -> Generated:
    """Create ``count`` more children of the parent (top level when None); ``max_cost`` is
    the task's budget."""
    with runner.store.session() as session:
        # A missing project, tag or question is a 404 here (the core says 422: bad input).
        optional_tag(session, project_by_id(session, project_id), parent_id)
        job = create_tags_job(
            session, settings, project_id, parent_id=parent_id, add=count, max_cost=max_cost
        )
    result = await _run(runner, job, "tags")
    _check_still_there(runner.store, parent_id)
    return result


async def add_questions(
    runner: TaskRunner,
    settings: Settings,
    project_id: int,
    tag_id: int,
    count: int,
    max_cost: float | None = None,
) -> Generated:
    """Create ``count`` more questions for the tag (``max_cost``: the task's budget)."""
    with runner.store.session() as session:
        tag_in_project(session, project_by_id(session, project_id), tag_id)
        job = create_questions_job(
            session, settings, project_id, tag_id=tag_id, add=count, max_cost=max_cost
        )
    result = await _run(runner, job, "questions")
    _check_still_there(runner.store, tag_id)
    return result


@dataclass
class Answered:
    answer_id: int | None
    skipped: bool
    error: str | None


async def answer_one(
    runner: TaskRunner,
    settings: Settings,
    project_id: int,
    question_id: int,
    *,
    fresh: bool = False,
) -> Answered:
    """Answer one question; ``fresh`` asks the model for a new sample instead of the stored
    reply, and replaces the answer of an answered question with it."""
    with runner.store.session() as session:
        question_in_project(session, project_by_id(session, project_id), question_id)
        job = create_answers_job(
            session, settings, project_id, question_ids=[question_id], resample=fresh
        )
    result = await _run(runner, job, "answers")
    if result.skipped:  # deleted while it was being answered: the request says so
        raise TargetGone("question", question_id)
    with runner.store.session() as session:
        answer_id = first_answer_id(session, question_id)
    # Nothing planned: the question was answered already and no new sample was asked.
    return Answered(answer_id, result.wanted == 0, result.error)


async def test_endpoint(store: Store, settings: Settings, alias: str) -> dict[str, object]:
    """The CLI's `model test`: one small live request with these settings and key."""
    with store.session() as session:
        endpoint = endpoint_config(get_endpoint(session, alias), settings)
    try:
        report = await probe_endpoint(store, endpoint)
    except ModelCallError as exc:
        return {"ok": False, "alias": alias, "error": str(exc), "status": exc.status}
    return {"error": report.reply_error, **report.as_dict()}
