"""Endpoints that tell us to wait long, are down at start, or hang."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import pytest
from reliability_support import NAME, make_project, set_project, tree_of
from typer.testing import Result

from distillset.config import Settings
from distillset.llm import LimitSettings, open_gateway
from distillset.llm import limiter as limiter_module
from distillset.llm.retry import retry_after_seconds
from distillset.projects.lifecycle import create_project
from distillset.store import Store, Tag, Task
from distillset.testing import FakeModelServer

ASK = [{"role": "user", "content": "Why do sprinters use starting blocks?"}]


class FakeClock:
    """Monotonic time that moves only when the limiter sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.mark.parametrize("seconds", [120.0, 3600.0])
def test_unit_retry_after_beyond_the_sdk_cap_is_taken_as_given(seconds: float) -> None:
    # The OpenAI SDK ignores Retry-After above 60 s; a provider asking for more means it.
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds({"retry-after": f"{seconds:g}"}) == seconds
    assert retry_after_seconds({"retry-after-ms": str(int(seconds * 1000))}) == seconds
    date = format_datetime(now + timedelta(seconds=seconds), usegmt=True)
    assert retry_after_seconds({"retry-after": date}, now=now) == seconds


def test_a_retry_after_of_two_minutes_is_waited_out_then_the_call_succeeds(
    store: Store, fake_server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over real HTTP, with the limiter's clock and sleep replaced so no minute passes."""
    clock = FakeClock()
    fake_asyncio = SimpleNamespace(**vars(asyncio))
    fake_asyncio.sleep = clock.sleep
    monkeypatch.setattr(limiter_module, "time", SimpleNamespace(monotonic=clock.monotonic))
    monkeypatch.setattr(limiter_module, "asyncio", fake_asyncio)
    with store.session() as session:
        project_id = create_project(session, "Patient").id
    fake_server.configure(retry_after=120)
    fake_server.queue_faults("429")

    async def scenario() -> str:
        limits = LimitSettings(max_concurrency=2, max_retries=2)
        async with open_gateway(store, limits, project_id=project_id) as gateway:
            result = await gateway.chat(fake_server.endpoint(), ASK, purpose="test")
        return result.content

    started = time.monotonic()
    assert asyncio.run(scenario())
    assert time.monotonic() - started < 60  # the real clock did not wait the two minutes
    assert sum(clock.sleeps) >= 120.0 - 1e-6, clock.sleeps
    assert fake_server.stats().total == 2
    assert fake_server.stats().by_status == {429: 1, 200: 1}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _task(store: Store, task_id: int) -> Task:
    with store.session() as session:
        task = session.get(Task, task_id)
        assert task is not None
        return task


def test_an_endpoint_down_at_start_fails_the_task_clearly_and_resumes_when_up(
    store: Store, settings: Settings, cli: Callable[..., Result]
) -> None:
    port = _free_port()
    make_project(store, f"http://127.0.0.1:{port}/v1", max_concurrency=4, max_retries=1)

    down = cli("auto", NAME, "--levels", "1", "--tags", "2", "--questions", "2")

    assert down.exit_code == 1, down.output
    assert "Traceback" not in down.output
    assert f"cannot connect to http://127.0.0.1:{port}/v1" in down.output
    assert "resume with `distillset tasks resume 1`" in down.output
    task = _task(store, 1)
    assert task.status == "failed"
    assert task.last_error and "cannot connect" in task.last_error
    assert task.counters["tags"]["failed"] == 2

    with FakeModelServer(port=port):
        resumed = cli("tasks", "resume", "1")
    assert resumed.exit_code == 0, resumed.output
    assert _task(store, 1).status == "succeeded"
    tree = tree_of(store)
    assert (tree.tags, tree.questions, tree.answers, tree.duplicates) == (2, 4, 4, 0)


@pytest.mark.timeout(60)
def test_an_endpoint_that_hangs_times_out_and_the_task_ends(
    store: Store,
    fake_server: FakeModelServer,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_project(store, fake_server.url, max_concurrency=4)
    # The tree and questions come through, then every answer request hangs. (The 0.3 s
    # timeout is set only then: a loaded machine may take longer for a list; 10 s until
    # then, so a stall drawn by the fault rates fails fast too.)
    set_project(store, max_retries=1, request_timeout=10)
    fake_server.configure(stall_seconds=3600.0)
    assert cli("tags", "generate", NAME, "--count", "2").exit_code == 0
    first_tag = _first_tag(store)
    assert cli("questions", "generate", NAME, "--tag", first_tag, "-n", "2").exit_code == 0
    set_project(store, max_retries=1, request_timeout=0.3)
    monkeypatch.setattr(fake_server, "_pick_fault", lambda: "stall")

    hung = cli("answers", "generate", NAME)

    assert hung.exit_code == 1, hung.output
    assert "no response within 0.3s" in hung.output
    with store.session() as session:
        task = session.query(Task).order_by(Task.id.desc()).first()
        assert task is not None
        assert task.status == "failed" and task.finished_at is not None
        assert task.counters["answers"] == {"planned": 2, "done": 0, "failed": 2, "skipped": 0}
    # The stalled handlers end with their dropped connections: nothing is left in flight.
    deadline = time.monotonic() + 10
    while fake_server.stats().in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_server.stats().in_flight == 0


def _first_tag(store: Store) -> str:
    with store.session() as session:
        tag = session.query(Tag).order_by(Tag.id).first()
        assert tag is not None
        return tag.label
