"""Adaptive concurrency against a server that queues what its slots cannot take."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from distillset.auto import create_auto_job
from distillset.config import Settings
from distillset.kinds import run_task
from distillset.projects import get_endpoint, update_endpoint
from distillset.store import Store
from distillset.testing import FakeModelServer

# A llama.cpp-like server: two slots, the rest queued. A project far above it, with a
# timeout that a request queued behind many others exceeds.
SLOTS, LATENCY, TIMEOUT, CONFIGURED = 2, 0.25, 1.5, 16


def _run(store: Store, settings: Settings, project_id: int) -> dict[str, Any]:
    with store.session() as session:
        job = create_auto_job(session, settings, project_id, levels=1, tags=2, questions=15)
    return asyncio.run(run_task(store, settings, job.task_id))


@pytest.mark.usefixtures("database")
def test_a_run_far_above_the_servers_slots_learns_them_and_times_nothing_out(
    store: Store,
    settings: Settings,
    project_factory: Callable[..., int],
    fake_server: FakeModelServer,
) -> None:
    fake_server.configure(slots=SLOTS, latency=LATENCY, log_prompts=False)
    project_id = project_factory(
        "Adaptive", max_concurrency=CONFIGURED, request_timeout=TIMEOUT, max_retries=0
    )
    summary = _run(store, settings, project_id)

    assert summary["status"] == "succeeded", summary["last_error"]
    calls = summary["counters"]["calls"]
    assert calls["failed"] == 0
    assert fake_server.stats().by_status == {200: fake_server.stats().total}
    # What it learned: about the server's slots, far under what was configured.
    assert 1 <= calls["concurrency"] <= 3 * SLOTS < CONFIGURED


@pytest.mark.usefixtures("database")
def test_the_same_run_with_a_fixed_concurrency_times_out(
    store: Store,
    settings: Settings,
    project_factory: Callable[..., int],
    fake_server: FakeModelServer,
) -> None:
    fake_server.configure(slots=SLOTS, latency=LATENCY, log_prompts=False)
    project_id = project_factory(
        "Fixed", max_concurrency=CONFIGURED, request_timeout=TIMEOUT, max_retries=0
    )
    with store.session() as session:
        update_endpoint(session, get_endpoint(session, "fake"), adaptive=False)
    summary = _run(store, settings, project_id)

    assert summary["counters"]["calls"]["failed"] > 0  # queued past the timeout
    assert summary["counters"]["calls"]["concurrency"] == CONFIGURED
