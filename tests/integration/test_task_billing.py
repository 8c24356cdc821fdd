"""A task's tokens and cost are what its calls were billed, failed calls included."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from typer.testing import Result

from distillset import resolve
from distillset.auto import jobs
from distillset.config import Settings
from distillset.kinds import run_task
from distillset.projects import endpoints
from distillset.projects import lifecycle as projects
from distillset.store import LlmCall, Store, Task
from distillset.testing import FakeModelServer

NAME = "Billing"
# On SQLite and on PostgreSQL.
pytestmark = pytest.mark.usefixtures("database")


def _project(store: Store, url: str) -> None:
    with store.session() as session:
        created = projects.create_project(session, NAME)
        endpoints.add_endpoint(
            session,
            "fake",
            model="fake-model",
            base_url=url,
            price_input_per_m=1.0,
            price_output_per_m=2.0,
        )
        projects.update_project(
            session,
            created,
            question_model="fake",
            answer_model="fake",
            max_concurrency=1,
            max_retries=0,
        )


def _logged(store: Store, task_id: int, *, failed: bool) -> tuple[int, float]:
    """Tokens and cost the usage log holds for the task's calls (failed or all)."""
    query = select(
        func.sum(LlmCall.input_tokens) + func.sum(LlmCall.output_tokens), func.sum(LlmCall.cost)
    ).where(LlmCall.task_id == task_id)
    if failed:
        query = query.where(LlmCall.status != "ok")
    with store.session() as session:
        tokens, cost = session.execute(query).one()
    return int(tokens or 0), float(cost or 0.0)


def test_a_task_counts_the_tokens_and_cost_of_its_failed_calls(
    store: Store, settings: Settings, fake_server: FakeModelServer, cli: Callable[..., Result]
) -> None:
    _project(store, fake_server.url)
    # The tags arrive; the first tag's questions come back empty: billed, unusable, and the
    # call fails (the other calls succeed).
    fake_server.queue_faults("ok", "empty")
    with store.session() as session:
        job = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=1, tags=2, questions=1
        )
    summary = asyncio.run(run_task(store, settings, job.task_id))

    calls = summary["counters"]["calls"]
    failed_tokens, failed_cost = _logged(store, job.task_id, failed=True)
    all_tokens, all_cost = _logged(store, job.task_id, failed=False)
    assert failed_tokens > 0 and failed_cost > 0
    assert calls["failed_input_tokens"] + calls["failed_output_tokens"] == failed_tokens
    assert calls["input_tokens"] + calls["output_tokens"] == all_tokens
    assert calls["cost"] == round(all_cost, 6)
    assert calls["failed_cost"] == round(failed_cost, 6)

    shown = cli("tasks", "show", str(job.task_id))
    assert f"{all_tokens:,} tokens billed ({failed_tokens:,} in failed calls)" in shown.stdout


def test_a_task_whose_every_call_failed_still_shows_what_they_cost(
    store: Store, settings: Settings, fake_server: FakeModelServer
) -> None:
    _project(store, fake_server.url)
    fake_server.configure(rate_empty=1.0)
    with store.session() as session:
        job = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=1, tags=2, questions=1
        )
    summary = asyncio.run(run_task(store, settings, job.task_id))

    assert summary["status"] == "failed"
    calls = summary["counters"]["calls"]
    tokens, _cost = _logged(store, job.task_id, failed=True)
    assert tokens > 0
    assert calls["input_tokens"] + calls["output_tokens"] == tokens
    with store.session() as session:
        assert session.scalar(select(func.count(Task.id))) == 1
