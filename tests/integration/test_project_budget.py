"""A project's default budget (`project set --max-cost`) holds for the tasks started without
one; a task's own --max-cost wins."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import func, select
from typer.testing import Result

from distillset.store import LlmCall, Store
from distillset.testing import FakeModelServer

NAME = "Budgeted"
Cli = Callable[..., Result]
AUTO = ("auto", NAME, "--levels", "1", "--tags", "3", "--questions", "4", "--json")


def _project(cli: Cli, factory: Callable[[str], str], fake_server: FakeModelServer) -> None:
    factory(NAME)
    fake_server.configure(rate_500=0.0, rate_malformed=0.0, rate_truncated=0.0)
    assert cli("model", "set", "fake", "--price-in", "2", "--price-out", "8").exit_code == 0


def test_a_task_without_a_budget_pauses_at_the_projects_default(
    cli: Cli,
    cli_project_factory: Callable[[str], str],
    fake_server: FakeModelServer,
    store: Store,
) -> None:
    _project(cli, cli_project_factory, fake_server)
    changed = cli("project", "set", NAME, "--max-cost", "0.03", "--json")
    assert changed.exit_code == 0, changed.output
    assert json.loads(changed.stdout)["max_cost"] == 0.03

    paused = cli(*AUTO)

    assert paused.exit_code == 3, paused.output
    summary = json.loads(paused.stdout)
    assert summary["status"] == "paused"
    with store.session() as session:
        spent = session.scalar(select(func.sum(LlmCall.cost))) or 0
    assert 0 < spent <= 0.03

    # The task's own budget wins over the project's.
    resumed = cli("tasks", "resume", str(summary["id"]), "--max-cost", "1", "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["status"] == "succeeded"


def test_the_projects_budget_is_cleared_with_none_and_refused_below_zero(
    cli: Cli, cli_project_factory: Callable[[str], str], fake_server: FakeModelServer
) -> None:
    _project(cli, cli_project_factory, fake_server)
    refused = cli("project", "set", NAME, "--max-cost", "-1")
    assert refused.exit_code == 2
    assert "must be a number above 0" in refused.stderr
    assert cli("project", "set", NAME, "--max-cost", "0.01").exit_code == 0

    cleared = cli("project", "set", NAME, "--max-cost", "none", "--json")

    assert json.loads(cleared.stdout)["max_cost"] is None
    assert cli(*AUTO).exit_code == 0  # no budget: it runs to its end
