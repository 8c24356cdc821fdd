"""A plan above the bound on calls or cost is confirmed before it starts, on every interface;
a failed run counts as failed only what really failed, not the subtree planned below it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import Result

from distillset import resolve
from distillset.auto import jobs, plan
from distillset.auto.plan import PlanNeedsConfirmation
from distillset.config import Settings
from distillset.kinds import run_task
from distillset.projects import lifecycle as projects
from distillset.store import Store, Task
from distillset.testing import FakeModelServer

NAME = "Large plans"
ABSURD = ["--levels", "6", "--tags", "100", "--questions", "100"]


@pytest.fixture
def project(project_factory: Callable[..., int]) -> int:
    return project_factory(NAME)


def _tasks(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count(Task.id))) or 0)


def test_the_core_refuses_an_unconfirmed_absurd_plan_and_creates_nothing(
    store: Store, settings: Settings, project: int, fake_server: FakeModelServer
) -> None:
    with (
        pytest.raises(PlanNeedsConfirmation, match="model calls") as refused,
        store.session() as session,
    ):
        jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=6, tags=100, questions=100
        )
    assert refused.value.plan.answers == 100**7
    with store.session() as session:
        ordinary = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME)
        )  # the defaults: 1,111 calls
    assert ordinary.plan.why_confirm() is None
    assert _tasks(store) == 1 and fake_server.stats().total == 0


def test_the_cli_asks_before_an_absurd_plan_and_a_no_starts_nothing(
    store: Store, project: int, fake_server: FakeModelServer, cli: Callable[..., Result]
) -> None:
    result = cli("auto", NAME, *ABSURD, input="n\n")

    assert result.exit_code == 1
    assert "model calls" in result.stderr and "Start it?" in result.stderr
    assert _tasks(store) == 0 and fake_server.stats().total == 0


@pytest.mark.parametrize("how", ["answer yes", "--yes"])
def test_a_confirmed_large_plan_runs(
    store: Store,
    project: int,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    monkeypatch.setattr(plan, "LARGE_PLAN_CALLS", 3)  # this small job is "large" here
    small = ["auto", NAME, "--levels", "1", "--tags", "2", "--questions", "1"]
    if how == "--yes":
        result = cli(*small, "--yes")
        assert "Start it?" not in result.stderr
    else:
        result = cli(*small, input="y\n")
        assert "about 5 model calls (over 3)" in result.stderr
    assert result.exit_code == 0, result.output
    assert "task 1 succeeded" in result.stdout


def test_the_web_shows_the_numbers_and_asks_before_an_absurd_plan(
    client: TestClient, store: Store, project: int, fake_server: FakeModelServer
) -> None:
    form = {"levels": "6", "tags_per_level": "100", "questions_per_tag": "100"}
    shown = client.post(f"/projects/{project}/distill/auto/plan", data=form)
    assert "This is a large plan" in shown.text and "model calls" in shown.text
    assert 'name="confirm_large"' in shown.text and "required" in shown.text

    body = {"levels": 6, "tags_per_level": 100, "questions_per_tag": 100}
    refused = client.post(f"/api/v1/projects/{project}/tasks/auto", json=body)
    assert refused.status_code == 409 and "confirm_large" in refused.json()["detail"]
    planned = client.post(f"/api/v1/projects/{project}/auto/plan", json=body).json()
    assert "model calls" in planned["needs_confirmation"]
    assert _tasks(store) == 0 and fake_server.stats().total == 0


def test_a_failed_top_level_call_fails_its_tags_not_the_subtree_planned_below(
    store: Store, settings: Settings, project: int, fake_server: FakeModelServer
) -> None:
    with store.session() as session:
        projects.update_project(session, projects.get_project(session, NAME), max_retries=0)
        job = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=3, tags=3, questions=2
        )
    fake_server.queue_faults("500")  # the topic's own sub-tags call

    summary = asyncio.run(run_task(store, settings, job.task_id))

    counters = summary["counters"]
    assert summary["status"] == "failed"
    assert (counters["tags"]["failed"], counters["tags"]["planned"]) == (3, 3)
    for stage in ("questions", "answers"):
        assert counters[stage]["failed"] == 0 and counters[stage]["planned"] == 0
