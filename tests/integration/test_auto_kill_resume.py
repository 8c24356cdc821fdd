"""A real `distillset auto` process killed with SIGKILL mid-run resumes to the same dataset."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from distillset.config import Settings
from distillset.store import Answer, LlmCall, Question, Store, Tag, Task
from distillset.testing import FakeModelServer
from helpers import make_project

NAME = "Physical Education and Sports"
POLL_LIMIT_SECONDS = 60


def counts(store: Store) -> tuple[int, int, int]:
    with store.session() as session:
        return (
            int(session.scalar(select(func.count(Tag.id))) or 0),
            int(session.scalar(select(func.count(Question.id))) or 0),
            int(session.scalar(select(func.count(Answer.id))) or 0),
        )


def distillset(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DISTILLSET_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "distillset", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# When to kill: once the stage (tags, questions, answers) holds this many items.
KILL_POINTS = {
    "first tag": (0, 1),
    "first question": (1, 1),
    "five answers": (2, 5),
}


def twice_paid(store: Store) -> int:
    """Request keys with more than one successful call: a reply paid for twice."""
    keys = (
        select(LlmCall.request_key)
        .where(LlmCall.status == "ok")
        .group_by(LlmCall.request_key)
        .having(func.count() > 1)
    )
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(keys.subquery())) or 0)


@pytest.mark.parametrize("kill_point", list(KILL_POINTS))
@pytest.mark.parametrize("again", ["tasks resume", "auto"])
def test_sigkill_mid_run_then_resume_reaches_the_same_counts_without_duplicates(
    store: Store,
    settings: Settings,
    fake_server: FakeModelServer,
    distillset_home: Path,
    again: str,
    kill_point: str,
) -> None:
    fake_server.configure(latency=0.05, log_prompts=False)
    make_project(store, fake_server.url, NAME, max_concurrency=4)

    run = distillset(
        distillset_home, "auto", NAME, "--levels", "2", "--tags", "4", "--questions", "3"
    )
    stage, reached = KILL_POINTS[kill_point]
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    while counts(store)[stage] < reached:
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=10)
    partial = counts(store)
    assert partial[2] < 48 and partial[stage] >= reached

    with store.session() as session:
        task = session.scalars(select(Task)).one()
        task_id, status = task.id, task.status
    assert status == "running"  # as the dead process left it; shown as interrupted when stale
    listing = subprocess.run(
        [sys.executable, "-m", "distillset", "tasks", "list", "--json"],
        env={
            **os.environ,
            "DISTILLSET_HOME": str(distillset_home),
            "DISTILLSET_HEARTBEAT_STALE_SECONDS": "0.001",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"status": "interrupted"' in listing.stdout

    if again == "tasks resume":
        resumed = distillset(distillset_home, "tasks", "resume", str(task_id))
    else:
        resumed = distillset(
            distillset_home, "auto", NAME, "--levels", "2", "--tags", "4", "--questions", "3"
        )
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err

    assert counts(store) == (20, 48, 48)
    with store.session() as session:
        labels = session.execute(select(Tag.parent_id, Tag.label_key)).all()
        hashes = list(session.scalars(select(Question.text_hash)))
        answered = session.execute(
            select(Answer.question_id, func.count(Answer.id)).group_by(Answer.question_id)
        ).all()
        last = session.scalars(select(Task).order_by(Task.id.desc())).first()
        assert last is not None and last.status == "succeeded"
        if again == "tasks resume":
            assert last.id == task_id
            assert last.counters["answers"] == {
                "planned": 48,
                "done": 48,
                "failed": 0,
                "skipped": 0,
            }
    assert len(set(labels)) == len(labels) == 20
    assert len(set(hashes)) == len(hashes) == 48
    assert all(number == 1 for _question, number in answered)
    assert twice_paid(store) == 0


def test_ctrl_c_stops_the_run_cleanly_as_cancelled(
    store: Store, settings: Settings, fake_server: FakeModelServer, distillset_home: Path
) -> None:
    fake_server.configure(latency=0.05, log_prompts=False)
    make_project(store, fake_server.url, NAME, max_concurrency=4)

    run = distillset(
        distillset_home, "auto", NAME, "--levels", "2", "--tags", "4", "--questions", "3"
    )
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    while counts(store)[2] < 2:
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.02)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=30)

    assert run.returncode == 130, err
    assert "cancelled" in out and "tasks resume" in out
    assert "Traceback" not in err
    with store.session() as session:
        task = session.scalars(select(Task)).one()
        assert task.status == "cancelled" and task.finished_at is not None
