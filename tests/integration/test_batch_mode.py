"""Batch mode through real HTTP (the fake server's /v1/files and /v1/batches) on SQLite and
PostgreSQL: answers and verdicts asked in batches, failed lines and expired batches sent
again alone, a run killed while it polls resumed without sending or paying anything twice,
and a cancelled task cancelling its batches at the provider."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import Result

from distillset import api
from distillset.auto import create_answers_job
from distillset.config import Settings
from distillset.domain import Origin
from distillset.kinds import run_task
from distillset.llm import BatchApiError, BatchClient
from distillset.llm.batch_api import RemoteBatch, request_line
from distillset.store import Answer, LlmBatch, LlmCall, Question, Store, Task
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from helpers import make_project, make_web_project, only_project, wait_until

NAME = "Batched"
QUESTIONS = 6
PRICES = ("--price-in", "2", "--price-out", "8", "--batch-discount", "0.5")
Cli = Callable[..., Result]
WAIT_SECONDS = 60


@pytest.fixture(autouse=True)
def quick_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches submitted and read within moments (a provider's pace is minutes)."""
    monkeypatch.setenv("DISTILLSET_BATCH_FLUSH_SECONDS", "0.05")
    monkeypatch.setenv("DISTILLSET_BATCH_POLL_SECONDS", "0.05")
    monkeypatch.setenv("DISTILLSET_BATCH_POLL_MAX_SECONDS", "0.2")


@pytest.fixture
def project(store: Store, fake_server: FakeModelServer, cli: Cli) -> str:
    """A project with QUESTIONS unanswered questions; its endpoint has prices and a 50%
    batch discount."""
    make_project(store, fake_server.url, NAME, max_retries=0)
    assert cli("model", "set", "fake", *PRICES).exit_code == 0
    with store.session() as session:
        tag = add_tag_path(session, only_project(store), "Ball games", Origin.MANUAL)
        for index in range(QUESTIONS):
            text = f"How is ball game number {index} played?"
            session.add(
                Question(project_id=tag.project_id, tag_id=tag.id, text=text, text_hash=text)
            )
    return NAME


def _answer_calls(store: Store) -> list[LlmCall]:
    with store.session() as session:
        rows = session.scalars(select(LlmCall).where(LlmCall.purpose == "answer"))
        return list(rows)


def _answers(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count(Answer.id))) or 0)


def _generate(cli: Cli) -> dict[str, object]:
    result = cli("answers", "generate", NAME, "--batch", "--yes", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.usefixtures("database")
def test_answers_go_through_one_batch_at_the_batch_price(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    summary = _generate(cli)
    assert summary["status"] == "succeeded"
    stats = fake_server.batches.stats
    assert (stats.batches, stats.lines, stats.answered) == (1, QUESTIONS, QUESTIONS)
    assert fake_server.stats().total == 0  # not one answer was asked one request at a time
    assert _answers(store) == QUESTIONS
    calls = _answer_calls(store)
    assert len(calls) == QUESTIONS and {call.status for call in calls} == {"ok"}
    for call in calls:
        assert call.input_tokens and call.output_tokens
        full = (call.input_tokens * 2 + call.output_tokens * 8) / 1_000_000
        assert call.cost == pytest.approx(full * 0.5)
    # The custom_id of each line is its request's cache key.
    assert sorted(stats.custom_ids) == sorted(call.request_key for call in calls)
    counters = summary["counters"]
    assert isinstance(counters, dict)
    assert counters["batches"]["batches"] == 1
    assert counters["batches"]["done"] == QUESTIONS
    with store.session() as session:
        batch = session.scalars(select(LlmBatch)).one()
        assert (batch.status, batch.remote_status, batch.done) == (
            "ingested",
            "completed",
            QUESTIONS,
        )

    # Asked again, every answer comes from the call log: nothing is submitted.
    with store.session() as session:
        session.execute(Answer.__table__.delete())
    _generate(cli)
    assert fake_server.batches.stats.batches == 1
    assert _answers(store) == QUESTIONS


@pytest.mark.usefixtures("database")
def test_failed_lines_are_sent_again_alone(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(batch_failed_lines=2)
    assert _generate(cli)["status"] == "succeeded"
    stats = fake_server.batches.stats
    assert stats.batches == 2
    assert stats.lines == QUESTIONS + 2  # the second batch holds the two failed lines only
    assert _answers(store) == QUESTIONS
    assert len(_answer_calls(store)) == QUESTIONS


@pytest.mark.usefixtures("database")
def test_an_expired_batch_has_its_unfinished_lines_sent_again(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(batch_expire=1)
    assert _generate(cli)["status"] == "succeeded"
    stats = fake_server.batches.stats
    unfinished = QUESTIONS - QUESTIONS // 2
    assert (stats.batches, stats.lines) == (2, QUESTIONS + unfinished)
    assert stats.answered == QUESTIONS  # the expired batch's finished half was kept
    assert _answers(store) == QUESTIONS
    with store.session() as session:
        statuses = sorted(session.scalars(select(LlmBatch.remote_status)))
    assert statuses == ["completed", "expired"]


@pytest.mark.usefixtures("database")
def test_lines_failing_every_time_fail_their_answers_only(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(batch_failed_lines=100)
    result = cli("answers", "generate", NAME, "--batch", "--yes", "--json")
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "failed"
    assert "failed in a batch: HTTP 500" in summary["last_error"]
    assert fake_server.batches.stats.batches == 4  # the first, then three more tries
    calls = _answer_calls(store)
    assert len(calls) == QUESTIONS and {call.status for call in calls} == {"error"}


def _submitted(store: Store) -> bool:
    with store.session() as session:
        statuses = list(session.scalars(select(LlmBatch.status)))
    return statuses == ["submitted"]


@pytest.mark.usefixtures("database")
def test_a_run_killed_while_it_polls_resumes_without_sending_or_paying_twice(
    cli: Cli,
    project: str,
    store: Store,
    fake_server: FakeModelServer,
    distillset_home: Path,
) -> None:
    fake_server.configure(batch_delay=3600)
    env = {**os.environ, "DISTILLSET_HOME": str(distillset_home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "distillset", "answers", "generate", NAME, "--batch", "--yes"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until("the batch to be submitted", lambda: _submitted(store), WAIT_SECONDS)
        time.sleep(0.3)  # a few polls of the batch in progress
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert _answers(store) == 0
    fake_server.configure(batch_delay=0)
    with store.session() as session:
        task_id = session.scalars(select(Task.id)).one()
    resumed = cli("tasks", "resume", str(task_id), "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    stats = fake_server.batches.stats
    assert (stats.batches, stats.lines) == (1, QUESTIONS)  # nothing submitted again
    assert _answers(store) == QUESTIONS
    calls = _answer_calls(store)
    assert len(calls) == QUESTIONS  # each paid once
    assert len({call.request_key for call in calls}) == QUESTIONS


async def _run_until_submitted(store: Store, settings: Settings, task_id: int) -> None:
    """Run the task until its batch is submitted, then stop the run from outside (as a
    server shutting down does): the task is left interrupted, its batch open."""
    running = asyncio.create_task(run_task(store, settings, task_id))
    deadline = time.monotonic() + WAIT_SECONDS
    while not await asyncio.to_thread(_submitted, store):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running


def _answers_task(store: Store, settings: Settings) -> int:
    with store.session() as session:
        project_id = only_project(store).id
        return create_answers_job(session, settings, project_id, batch=True).task_id


@pytest.mark.usefixtures("database")
def test_cancelling_a_running_task_cancels_its_batches(
    project: str, store: Store, settings: Settings, fake_server: FakeModelServer
) -> None:
    fake_server.configure(batch_delay=3600)
    task_id = _answers_task(store, settings)

    async def run_then_cancel() -> dict[str, object]:
        cancel = asyncio.Event()
        running = asyncio.create_task(run_task(store, settings, task_id, cancel_event=cancel))
        while not await asyncio.to_thread(_submitted, store):
            await asyncio.sleep(0.05)
        cancel.set()
        return await running

    summary = asyncio.run(run_then_cancel())
    assert summary["status"] == "cancelled"
    assert fake_server.batches.stats.cancelled == 1
    assert [b.status for b in fake_server.batches.batches.values()] == ["cancelling"]
    with store.session() as session:
        batch = session.scalars(select(LlmBatch)).one()
        assert (batch.status, batch.remote_status) == ("submitted", "cancelling")


@pytest.mark.usefixtures("database")
def test_cancelling_a_stopped_task_cancels_its_batches(
    cli: Cli, project: str, store: Store, settings: Settings, fake_server: FakeModelServer
) -> None:
    fake_server.configure(batch_delay=3600)
    task_id = _answers_task(store, settings)
    asyncio.run(_run_until_submitted(store, settings, task_id))
    assert fake_server.batches.stats.cancelled == 0  # stopped to be resumed: left running
    cancelled = cli("tasks", "cancel", str(task_id), "--json")
    assert cancelled.exit_code == 0, cancelled.output
    assert json.loads(cancelled.stdout)["status"] == "cancelled"
    assert fake_server.batches.stats.cancelled == 1
    with store.session() as session:
        assert session.scalars(select(LlmBatch.remote_status)).one() == "cancelling"
    assert _answers(store) == 0
    # Cancelled again, nothing more is asked of the provider.
    assert cli("tasks", "cancel", str(task_id)).exit_code == 2
    assert fake_server.batches.stats.cancelled == 1

    # Resumed after all, the task reads the cancelled batch (what it finished was paid
    # for) and sends the rest again.
    fake_server.configure(batch_delay=0)
    resumed = cli("tasks", "resume", str(task_id), "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    stats = fake_server.batches.stats
    assert (stats.batches, stats.lines, stats.answered) == (2, 2 * QUESTIONS, QUESTIONS)
    assert _answers(store) == QUESTIONS
    with store.session() as session:
        statuses = sorted(session.scalars(select(LlmBatch.remote_status)))
    assert statuses == ["cancelled", "completed"]


@pytest.mark.usefixtures("database")
def test_auto_sends_its_answers_in_batches_as_questions_accumulate(
    cli: Cli, cli_project_factory: Callable[[str], str], store: Store, fake_server: FakeModelServer
) -> None:
    name = cli_project_factory("Auto batched")
    args = ("auto", name, "--levels", "1", "--tags", "3", "--questions", "4")
    result = cli(*args, "--batch-answers", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "succeeded"
    stats = fake_server.batches.stats
    assert stats.lines == stats.answered == 12  # every answer in a batch, each once
    assert stats.batches >= 1
    # Tags and questions were asked at once; no answer was.
    with store.session() as session:
        purposes = set(session.scalars(select(LlmCall.purpose).where(LlmCall.http_status == 200)))
        assert session.scalar(select(func.count(Answer.id))) == 12
    assert purposes == {"tags", "questions", "answer"}
    assert len(_answer_calls(store)) == 12


@pytest.mark.usefixtures("database")
def test_the_judge_asks_its_verdicts_in_a_batch(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    _generate(cli)
    answered = fake_server.batches.stats.lines
    result = cli("judge", NAME, "--model", "fake", "--batch", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "succeeded"
    assert summary["counters"]["batches"]["done"] == QUESTIONS
    stats = fake_server.batches.stats
    assert (stats.batches, stats.lines - answered) == (2, QUESTIONS)
    assert fake_server.stats().total == 0
    with store.session() as session:
        scores = list(session.scalars(select(Answer.score)))
        verdicts = session.scalars(select(LlmCall).where(LlmCall.purpose == "judge")).all()
    assert len(scores) == QUESTIONS and all(score is not None for score in scores)
    assert len(verdicts) == QUESTIONS
    assert all(call.cost is not None for call in verdicts)


@pytest.mark.usefixtures("database")
def test_a_batch_created_by_a_run_killed_before_noting_its_id_is_found_by_its_metadata(
    project: str, store: Store, settings: Settings, fake_server: FakeModelServer
) -> None:
    fake_server.configure(batch_delay=3600)
    task_id = _answers_task(store, settings)
    asyncio.run(_run_until_submitted(store, settings, task_id))
    with store.session() as session:  # as if killed between creating it and noting its id
        batch = session.scalars(select(LlmBatch)).one()
        batch.remote_id, batch.status = None, "preparing"
    fake_server.configure(batch_delay=0)
    summary = asyncio.run(run_task(store, settings, task_id))
    assert summary["status"] == "succeeded"
    stats = fake_server.batches.stats
    assert (stats.batches, stats.lines) == (1, QUESTIONS)
    assert _answers(store) == QUESTIONS
    assert len(_answer_calls(store)) == QUESTIONS


def test_the_fake_batch_interface_speaks_openais_format(fake_server: FakeModelServer) -> None:
    fake_server.configure(batch_failed_lines=1)
    body = '{"model": "fake-model", "messages": [{"role": "user", "content": "Why run?"}]}'

    async def scenario() -> tuple[RemoteBatch, list[dict[str, object]], RemoteBatch]:
        client = BatchClient(fake_server.endpoint())
        try:
            data = (request_line("a", body) + request_line("b", body)).encode()
            remote = await client.create(await client.upload(data, "in.jsonl"), {"k": "v"})
            assert remote.status == "validating" and remote.total == 2
            remote = await client.retrieve(remote.id)
            assert remote.output_file_id and remote.error_file_id
            lines = await client.lines(remote.output_file_id)
            lines += await client.lines(remote.error_file_id)
            broken = await client.upload(b'{"custom_id": "x"}\n', "bad.jsonl")
            refused = await client.retrieve((await client.create(broken, {})).id)
            with pytest.raises(BatchApiError, match="HTTP 404"):
                await client.retrieve("batch-unknown")
            return remote, lines, refused
        finally:
            await client.aclose()

    remote, lines, refused = asyncio.run(scenario())
    assert (remote.status, remote.completed, remote.failed) == ("completed", 1, 1)
    ok, failed = lines
    assert set(ok) == {"id", "custom_id", "response", "error"} and ok["error"] is None
    response = ok["response"]
    assert isinstance(response, dict) and response["status_code"] == 200
    assert response["body"]["choices"][0]["message"]["content"]
    assert failed["custom_id"] == "a" and ok["custom_id"] == "b"
    assert isinstance(failed["response"], dict) and failed["response"]["status_code"] == 500
    assert refused.status == "failed" and refused.errors


def test_the_web_api_starts_a_batched_answer_task(
    client: TestClient, fake_server: FakeModelServer
) -> None:
    project_id = make_web_project(client, fake_server.url, "Web batched")
    base = f"/api/v1/projects/{project_id}"
    tag = client.post(f"{base}/tags", json={"label": "Cycling"}).json()["id"]
    assert client.post(f"{base}/tags/{tag}/questions/generate", json={"count": 3}).is_success
    prices = {"price_input_per_m": 1.0, "batch_discount": 0.5, "price_cached_input_per_m": 0.1}
    changed = client.patch("/api/v1/endpoints/fake", json=prices)
    assert changed.status_code == 200 and changed.json()["batch_discount"] == 0.5
    started = client.post(f"{base}/tasks/answers", json={"tag_id": tag, "batch": True})
    assert started.status_code == 202
    task_id = started.json()["task_id"]
    deadline = time.monotonic() + WAIT_SECONDS
    while (task := client.get(f"/api/v1/tasks/{task_id}").json())["status"] != "succeeded":
        assert time.monotonic() < deadline and task["status"] in ("queued", "running"), task
        time.sleep(0.05)
    assert task["params"]["batch_answers"] is True
    assert task["counters"]["batches"]["done"] == 3
    assert fake_server.batches.stats.lines == 3


@pytest.mark.usefixtures("database")
def test_the_plan_of_a_batched_job_is_estimated_at_the_batch_price(
    project: str, store: Store, settings: Settings
) -> None:
    with store.session() as session:
        project_id = only_project(store).id
        ordinary = create_answers_job(session, settings, project_id).plan.estimated_cost
        session.rollback()
        batched = create_answers_job(session, settings, project_id, batch=True).plan
    assert ordinary is not None and batched.estimated_cost is not None
    assert batched.estimated_cost == pytest.approx(ordinary * 0.5)


def test_an_endpoint_without_a_batch_interface_fails_the_answers_in_one_line(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    # The server's root has no /files: as a local server without the batch interface.
    root = fake_server.url.removesuffix("/v1")
    assert cli("model", "set", "fake", "--base-url", root).exit_code == 0
    result = cli("answers", "generate", NAME, "--batch", "--yes", "--json")
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["last_error"]
    assert "batch not submitted: uploading a batch file: HTTP 404" in error
    assert "\n" not in error
    assert _answers(store) == 0
    with store.session() as session:
        assert session.scalars(select(LlmBatch.status)).one() == "failed"


@pytest.mark.usefixtures("database")
def test_the_python_api_cancels_a_stopped_tasks_batches(
    project: str, store: Store, settings: Settings, fake_server: FakeModelServer
) -> None:
    fake_server.configure(batch_delay=3600)
    task_id = _answers_task(store, settings)
    asyncio.run(_run_until_submitted(store, settings, task_id))
    cancelled = api.cancel_task(task_id, settings=settings, store=store)
    assert cancelled["status"] == "cancelled" and "batch_problems" not in cancelled
    assert fake_server.batches.stats.cancelled == 1


@pytest.mark.usefixtures("database")
@pytest.mark.parametrize(
    ("limit", "value"),
    [("DISTILLSET_BATCH_MAX_LINES", "4"), ("DISTILLSET_BATCH_MAX_BYTES", "1024")],
)
def test_requests_are_split_into_batches_within_the_limits(
    cli: Cli,
    project: str,
    store: Store,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
    limit: str,
    value: str,
) -> None:
    monkeypatch.setenv(limit, value)
    assert _generate(cli)["status"] == "succeeded"
    stats = fake_server.batches.stats
    assert stats.batches >= 2 and stats.lines == QUESTIONS
    sizes = [len(batch.lines) for batch in fake_server.batches.batches.values()]
    if limit.endswith("LINES"):
        assert max(sizes) <= 4
    files = [
        fake_server.batches.files[b.input_file_id] for b in fake_server.batches.batches.values()
    ]
    if limit.endswith("BYTES"):
        assert max(len(data) for data in files) <= 1024
    assert _answers(store) == QUESTIONS
