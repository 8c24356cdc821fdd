"""Two `distillset worker` processes share one job on PostgreSQL; one is killed (SIGKILL)
mid-job. Nothing is lost (every question answered), nothing duplicated (one answer each,
each reply paid once but the killed worker's requests in flight), the limit held."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select

from distillset.store import Answer, LlmCall, Question, SlotLease, Store, Task, TaskWorker
from distillset.testing import FakeModelServer
from helpers import make_project, wait_until

NAME = "Sports"
LIMIT = 4
TAGS, QUESTIONS = 3, 16  # 48 answers
STALE_SECONDS = "2"


def worker(home: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DISTILLSET_HOME": str(home),
        "DISTILLSET_HEARTBEAT_STALE_SECONDS": STALE_SECONDS,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "distillset", "worker", "--poll", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def task_status(store: Store) -> str:
    with store.session() as session:
        return str(session.scalars(select(Task.status)).one())


def slot_holders(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count(SlotLease.owner.distinct()))) or 0)


def count(store: Store, column: object) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count(column))) or 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("killed", ["owner", "joined"])
def test_a_worker_killed_during_a_shared_job_loses_and_duplicates_nothing(
    postgres_url: str,
    store: Store,
    fake_server: FakeModelServer,
    distillset_home: Path,
    cli: Callable[..., Result],
    killed: str,
) -> None:
    fake_server.configure(latency=0.5, log_prompts=False)
    make_project(store, fake_server.url, NAME, max_concurrency=LIMIT)
    queued = cli(
        "auto", NAME, "--levels", "1", "--tags", str(TAGS), "--questions", str(QUESTIONS),
        "--queue", "--yes",
    )  # fmt: skip
    assert queued.exit_code == 0, queued.output

    workers = [worker(distillset_home), worker(distillset_home)]
    try:
        wait_until("both workers on the job", lambda: count(store, TaskWorker.owner) >= 2)
        wait_until("both workers holding slots", lambda: slot_holders(store) >= 2)
        # Both hold slots: requests are out at the server (0.5 s each) when one is killed.
        wait_until("requests in flight", lambda: fake_server.stats().in_flight >= 2)
        with store.session() as session:
            owner_pid = int(str(session.scalars(select(Task.owner)).one()).split(":")[1])
        owner = next(process for process in workers if process.pid == owner_pid)
        victim = owner if killed == "owner" else next(p for p in workers if p is not owner)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        wait_until("the job's end", lambda: task_status(store) not in ("running", "queued"))
    finally:
        for process in workers:
            process.terminate()
        outputs = [process.communicate(timeout=30)[0] for process in workers]
    output = "\n".join(outputs)
    with store.session() as session:
        task = session.scalars(select(Task)).one()
        assert task.status == "succeeded", (task.last_error, output)
        per_question = session.execute(
            select(Answer.question_id, func.count()).group_by(Answer.question_id)
        ).all()
        twice_logged = session.scalar(
            select(func.count()).select_from(
                select(LlmCall.request_key)
                .where(LlmCall.status == "ok")
                .group_by(LlmCall.request_key)
                .having(func.count() > 1)
                .subquery()
            )
        )
    questions = count(store, Question.id)
    assert questions == TAGS * QUESTIONS
    assert len(per_question) == questions  # nothing lost
    assert all(answers == 1 for _question, answers in per_question)  # nothing duplicated
    assert twice_logged == 0
    stats = fake_server.stats()
    # Paid once each, but what the killed worker had in flight (at most its slots).
    assert stats.by_kind.get("answer", 0) <= questions + LIMIT
    assert stats.max_in_flight <= LIMIT


def test_a_cancel_stops_every_worker_of_a_shared_job(
    postgres_url: str,
    store: Store,
    fake_server: FakeModelServer,
    distillset_home: Path,
    cli: Callable[..., Result],
) -> None:
    fake_server.configure(latency=0.5, log_prompts=False)
    make_project(store, fake_server.url, NAME, max_concurrency=LIMIT)
    queued = cli(
        "auto", NAME, "--levels", "1", "--tags", str(TAGS), "--questions", str(QUESTIONS),
        "--queue", "--yes", "--json",
    )  # fmt: skip
    task_id = json.loads(queued.stdout)["id"]
    workers = [worker(distillset_home), worker(distillset_home)]
    try:
        wait_until("both workers holding slots", lambda: slot_holders(store) >= 2)

        assert cli("tasks", "cancel", str(task_id)).exit_code == 0
        wait_until("the cancel", lambda: task_status(store) == "cancelled")
        wait_until("both workers to leave", lambda: count(store, TaskWorker.owner) == 0)
        wait_until("their requests to end", lambda: fake_server.stats().in_flight == 0)
        sent = fake_server.stats().total
        time.sleep(1.5)
        assert fake_server.stats().total == sent  # nobody sends anything more
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.communicate(timeout=30)
    with store.session() as session:
        assert session.scalar(select(func.count(SlotLease.owner))) == 0  # slots given back
        answers = session.scalar(select(func.count(Answer.id)))
    assert answers is not None and answers < TAGS * QUESTIONS
