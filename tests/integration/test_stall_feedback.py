"""A stalled endpoint is visible at once: requests waiting and for how long, and a CLI line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import Result

from distillset import resolve
from distillset.auto import jobs
from distillset.cli import task_progress
from distillset.config import Settings
from distillset.kinds import run_task
from distillset.llm.limiter import Limiter
from distillset.store import Store
from distillset.testing import FakeModelServer

NAME = "Stalls"


@pytest.fixture
def project(project_factory: Callable[..., int]) -> str:
    project_factory(NAME, max_concurrency=2)
    return NAME


def test_the_limiter_counts_the_requests_out_and_the_age_of_the_oldest() -> None:
    async def scenario() -> None:
        limiter = Limiter(4)
        first = await limiter.acquire()
        second = await limiter.acquire()
        assert limiter.waiting()[0] == 2
        limiter.release(first)
        count, longest = limiter.waiting()
        assert count == 1 and 0 <= longest <= time.monotonic() - second.granted_at
        limiter.release(second)
        assert limiter.waiting() == (0, 0.0)

    asyncio.run(scenario())


def test_a_stalled_endpoint_shows_its_waiting_requests_in_the_task_counters(
    store: Store, settings: Settings, project: str, fake_server: FakeModelServer
) -> None:
    fake_server.configure(stall_seconds=1.5)
    fake_server.queue_faults("stall")  # the first request (the topic's tags) hangs a while
    seen: list[dict[str, Any]] = []
    with store.session() as session:
        job = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=1, tags=1, questions=1
        )

    summary = asyncio.run(run_task(store, settings, job.task_id, on_progress=seen.append))

    assert summary["status"] == "succeeded"
    stalled = [c["calls"] for c in seen if c["calls"].get("waiting")]
    assert stalled and max(calls["longest_wait_seconds"] for calls in stalled) >= 1.0
    assert summary["counters"]["calls"]["waiting"] == 0


def test_the_cli_says_the_endpoint_has_not_answered_yet(
    project: str,
    fake_server: FakeModelServer,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(task_progress, "STALL_NOTICE_SECONDS", 0.5)  # users: 5 s
    fake_server.configure(stall_seconds=2.0)
    fake_server.queue_faults("stall")

    result = cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "1")

    assert result.exit_code == 0, result.output
    notices = [line for line in result.stderr.splitlines() if "not answered yet" in line]
    assert len(notices) == 1, result.stderr
    assert "1 waiting for a reply" in notices[0]
