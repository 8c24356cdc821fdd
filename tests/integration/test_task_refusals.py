"""A refused job leaves no task waiting forever; `auto` run again resumes its interrupted task."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import Result

from distillset import resolve
from distillset.auto import jobs
from distillset.config import Settings
from distillset.domain import ConflictError
from distillset.kinds import run_task
from distillset.runs.rows import effective_status
from distillset.store import Store, Task
from distillset.store.models import utcnow

NAME = "Refusals"
# On SQLite and on PostgreSQL.
pytestmark = pytest.mark.usefixtures("database")


@pytest.fixture
def project(project_factory: Callable[..., int]) -> str:
    project_factory(NAME)
    return NAME


def _running_elsewhere(store: Store, task_id: int, *, stale: bool = False) -> None:
    """Make the task look run by a living process on another host (or a stopped one)."""
    with store.session() as session:
        task = session.get(Task, task_id)
        assert task is not None
        task.status, task.owner = "running", "another-host:1:abc123"
        task.started_at = task.heartbeat_at = utcnow() - timedelta(seconds=3600 if stale else 0)


def _statuses(store: Store, settings: Settings) -> list[tuple[int, str]]:
    """Each task's status as `tasks list` shows it (a stale running task is interrupted)."""
    with store.session() as session:
        tasks = session.scalars(select(Task).order_by(Task.id))
        return [(task.id, effective_status(task, settings).value) for task in tasks]


def test_a_job_another_process_blocks_is_refused_before_its_task_exists(
    store: Store, settings: Settings, project: str, cli: Callable[..., Result]
) -> None:
    with store.session() as session:
        busy = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=1, tags=2, questions=1
        )
    _running_elsewhere(store, busy.task_id)

    result = cli("answers", "generate", NAME)

    assert result.exit_code == 2, result.output
    assert f"task {busy.task_id} (auto_distill) is already running" in result.stderr
    assert _statuses(store, settings) == [(busy.task_id, "running")]


def test_a_task_whose_run_is_refused_ends_failed_with_the_reason_not_queued(
    store: Store, settings: Settings, project: str
) -> None:
    """The rival appears between the task's creation and its claim."""
    with store.session() as session:
        answers = jobs.create_answers_job(session, settings, resolve.project_id(session, NAME))
        rival = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=1, tags=2, questions=1
        )
    _running_elsewhere(store, rival.task_id)

    with pytest.raises(ConflictError, match="already running"):
        asyncio.run(run_task(store, settings, answers.task_id))

    with store.session() as session:
        task = session.get(Task, answers.task_id)
        assert task is not None
        assert task.status == "failed" and task.finished_at is not None
        assert task.last_error and task.last_error.startswith("refused: task")


def test_auto_run_again_after_a_kill_resumes_the_interrupted_task(
    store: Store, settings: Settings, project: str, cli: Callable[..., Result]
) -> None:
    with store.session() as session:
        killed = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=1, tags=2, questions=1
        )
    _running_elsewhere(store, killed.task_id, stale=True)

    result = cli("auto", NAME, "--levels", "1", "--tags", "2", "--questions", "1")

    assert result.exit_code == 0, result.output
    assert f"resuming interrupted task {killed.task_id}" in result.stdout
    assert _statuses(store, settings) == [(killed.task_id, "succeeded")]


def test_auto_with_other_parameters_starts_a_new_task_beside_the_interrupted_one(
    store: Store, settings: Settings, project: str, cli: Callable[..., Result]
) -> None:
    with store.session() as session:
        killed = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=1, tags=2, questions=1
        )
    _running_elsewhere(store, killed.task_id, stale=True)

    result = cli("auto", NAME, "--levels", "1", "--tags", "3", "--questions", "1")

    assert result.exit_code == 0, result.output
    assert [status for _id, status in _statuses(store, settings)] == ["interrupted", "succeeded"]
