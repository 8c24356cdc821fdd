"""Budgets: a task pauses before a call its budget could not pay, and resumes with a higher one."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from typer.testing import Result

from distillset.store import Answer, LlmCall, Store, Task
from distillset.testing import FakeModelServer

NAME = "Budgeted"
Cli = Callable[..., Result]
# Dollars per million tokens: each fake call costs a fraction of a cent.
PRICES = ("--price-in", "2", "--price-out", "8")


@pytest.fixture
def project(cli: Cli, cli_project_factory: Callable[[str], str]) -> str:
    name = cli_project_factory(NAME)
    assert cli("model", "set", "fake", *PRICES).exit_code == 0
    return name


def _billed(store: Store, task_id: int) -> float:
    with store.session() as session:
        return float(
            session.scalar(select(func.sum(LlmCall.cost)).where(LlmCall.task_id == task_id)) or 0
        )


@pytest.mark.usefixtures("database")
def test_a_task_pauses_at_its_budget_and_resumes_with_a_higher_one(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(rate_500=0.0, rate_malformed=0.0, rate_truncated=0.0)
    args = ("auto", NAME, "--levels", "1", "--tags", "3", "--questions", "4", "--json")
    budget = 0.03
    paused = cli(*args, "--max-cost", str(budget))
    assert paused.exit_code == 3, paused.output
    summary = json.loads(paused.stdout)
    assert summary["status"] == "paused"
    assert summary["last_error"].startswith("budget reached")
    task_id = summary["id"]
    spent = _billed(store, task_id)
    assert 0 < spent <= budget  # never over: it stopped before the call that could be
    with store.session() as session:
        answers_then = session.scalar(select(func.count(Answer.id)))
    assert answers_then is not None and answers_then < 12

    # A paused task is resumed with a higher budget, and finishes.
    resumed = cli("tasks", "resume", str(task_id), "--max-cost", "1", "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    with store.session() as session:
        assert session.scalar(select(func.count(Answer.id))) == 12
        assert session.get_one(Task, task_id).params["max_cost"] == 1.0
    assert _billed(store, task_id) <= 1.0


def test_a_budget_must_be_above_zero(cli: Cli, project: str, fake_server: FakeModelServer) -> None:
    refused = cli("auto", NAME, "--levels", "1", "--tags", "2", "--max-cost", "0")
    assert refused.exit_code == 2
    assert "the budget (--max-cost) must be above 0" in refused.stderr
    assert fake_server.stats().total == 0
