"""`--queue` leaves a task to `distillset worker`, which runs it (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from distillset.config import Settings
from distillset.kinds import new_worker
from distillset.store import Answer, Question, Store, Task
from distillset.testing import FakeModelServer
from distillset.web import create_app
from helpers import make_project

NAME = "Sports"


def test_queued_job_waits_for_a_worker_which_runs_it(
    database: str,
    store: Store,
    fake_server: FakeModelServer,
    cli: Callable[..., Result],
) -> None:
    make_project(store, fake_server.url, NAME, max_concurrency=4)

    queued = cli("auto", NAME, "--levels", "1", "--tags", "2", "--questions", "3", "--queue")

    assert queued.exit_code == 0, queued.output
    assert "queued" in queued.output
    assert fake_server.stats().total == 0  # nothing ran in the process that queued it
    with store.session() as session:
        task = session.scalars(select(Task)).one()
        assert task.status == "queued"

    ran = cli("worker", "--once", "--poll", "0.1")

    assert ran.exit_code == 0, ran.output
    assert f"task {task.id}: succeeded" in ran.output
    with store.session() as session:
        assert session.get(Task, task.id).status == "succeeded"  # type: ignore[union-attr]
        questions = session.scalar(select(func.count(Question.id)))
        answers = session.scalar(select(func.count(Answer.id)))
    assert (questions, answers) == (6, 6)


def test_worker_runs_only_the_projects_it_is_given(
    store: Store, fake_server: FakeModelServer, cli: Callable[..., Result]
) -> None:
    make_project(store, fake_server.url, NAME)
    with store.session() as session:
        from distillset.projects import create_project

        create_project(session, "Other")
    assert cli("tags", "generate", NAME, "--count", "2", "--queue").exit_code == 0

    ran = cli("worker", "--once", "--project", "Other", "--poll", "0.1")

    assert ran.exit_code == 0, ran.output
    assert "ran 0 tasks" in ran.output
    with store.session() as session:
        assert session.scalars(select(Task.status)).one() == "queued"


def test_sqlite_worker_says_sharing_needs_postgresql(cli: Callable[..., Result]) -> None:
    ran = cli("worker", "--once")

    assert ran.exit_code == 0, ran.output
    assert "need PostgreSQL" in ran.output


def test_model_show_says_the_concurrency_its_adaptive_limit_learned(
    store: Store, fake_server: FakeModelServer, cli: Callable[..., Result]
) -> None:
    make_project(store, fake_server.url, NAME, max_concurrency=8)
    before = cli("model", "show", "fake", "--json")
    assert json.loads(before.stdout)["learned_concurrency"] is None

    assert cli("auto", NAME, "--levels", "1", "--tags", "2", "--questions", "5").exit_code == 0

    learned = json.loads(cli("model", "show", "fake", "--json").stdout)["learned_concurrency"]
    assert isinstance(learned, int) and 1 <= learned <= 8
    plain = cli("model", "show", "fake")
    assert f"learned_concurrency: {learned}" in plain.output


def test_a_web_app_started_with_queue_leaves_its_tasks_to_the_workers(
    settings: Settings, store: Store, fake_server: FakeModelServer
) -> None:
    project_id = make_project(store, fake_server.url, NAME, max_concurrency=4)
    queued_settings = settings.model_copy(update={"queue_tasks": True})
    with TestClient(create_app(queued_settings), base_url="http://127.0.0.1") as client:
        body = {"levels": 1, "tags_per_level": 2, "questions_per_tag": 2}
        started = client.post(f"/api/v1/projects/{project_id}/tasks/auto", json=body)
        assert started.status_code == 202, started.text
        task_id = started.json()["task_id"]
        time.sleep(0.3)
        assert fake_server.stats().total == 0  # the server runs nothing itself
        assert client.get(f"/api/v1/tasks/{task_id}").json()["status"] == "queued"

        asyncio.run(new_worker(store, settings).run(once=True, poll_seconds=0.05))

        assert client.get(f"/api/v1/tasks/{task_id}").json()["status"] == "succeeded"
    with store.session() as session:
        assert session.scalar(select(func.count(Answer.id))) == 4


def test_run_worker_from_python_runs_the_queued_tasks(
    settings: Settings, store: Store, fake_server: FakeModelServer, cli: Callable[..., Result]
) -> None:
    from distillset import api

    make_project(store, fake_server.url, NAME)
    assert cli("tags", "generate", NAME, "--count", "3", "--queue").exit_code == 0

    ran = api.run_worker([NAME], poll_seconds=0.05, settings=settings, store=store)

    assert ran == {"tasks_run": 1, "jobs_joined": 0}
    assert api.list_tasks(NAME, settings=settings, store=store)[0]["status"] == "succeeded"


def test_a_queued_judge_task_is_run_by_a_worker(
    store: Store, fake_server: FakeModelServer, cli: Callable[..., Result]
) -> None:
    make_project(store, fake_server.url, NAME)
    assert cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "3").exit_code == 0

    queued = cli("judge", NAME, "--queue", "--json")
    assert queued.exit_code == 0, queued.output
    assert json.loads(queued.stdout)["status"] == "queued"
    ran = cli("worker", "--once", "--poll", "0.05")

    assert ran.exit_code == 0, ran.output
    with store.session() as session:
        judged = session.get_one(Task, json.loads(queued.stdout)["id"])
        assert (judged.kind, judged.status) == ("judge", "succeeded")
        assert session.scalar(select(func.count(Answer.id)).where(Answer.score.is_not(None))) == 3
