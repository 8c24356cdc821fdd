"""Two `distillset auto` processes on one project at once: one runs, the other is refused.

Whatever the interleaving, the tree ends exact with no duplicates, and the fake server never
sees more requests in flight than the project's limit.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from reliability_support import NAME, make_project, tree_of
from sqlalchemy import exc, func, select, text

from distillset import resolve
from distillset.auto import jobs
from distillset.config import Settings, load_settings
from distillset.domain import ConflictError
from distillset.runs import rows as service
from distillset.store import Answer, Question, Store, Task, TaskEvent
from distillset.store.db import SQLITE_BUSY_TIMEOUT_MS
from distillset.store.models import utcnow
from distillset.testing import FakeModelServer

AUTO = ["auto", NAME, "--levels", "2", "--tags", "3", "--questions", "2"]
# A stale limit short enough for a test to outwait (users keep the default 30 s).
STALE_SECONDS = 2.0
POLL_LIMIT_SECONDS = 90


def _start(
    home: Path, args: list[str] = AUTO, *, stale: float | None = None
) -> subprocess.Popen[str]:
    env = os.environ | {"DISTILLSET_HOME": str(home)}
    if stale is not None:
        env["DISTILLSET_HEARTBEAT_STALE_SECONDS"] = str(stale)
    command = [sys.executable, "-m", "distillset", *args]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_for(condition: Callable[[], bool], *alive: subprocess.Popen[str]) -> None:
    """Poll (bounded) until ``condition`` holds, while the given processes keep running."""
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    while not condition():
        for process in alive:
            assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "the condition was never reached"
        time.sleep(0.02)


@pytest.mark.parametrize("round_number", range(3))
def test_two_processes_on_one_project_never_duplicate_or_exceed_the_limit(
    store: Store, settings: Settings, fake_server: FakeModelServer, round_number: int
) -> None:
    make_project(store, fake_server.url, max_concurrency=3)
    fake_server.configure(latency=0.02, seed=round_number)

    first, second = _start(settings.home), _start(settings.home)
    outputs = [process.communicate(timeout=120)[0] for process in (first, second)]
    codes = sorted(process.returncode for process in (first, second))

    tree = tree_of(store)
    assert tree.duplicates == 0 and tree.twice_paid == 0
    assert (tree.tags, tree.questions, tree.answers) == (12, 18, 18), outputs
    assert fake_server.stats().max_in_flight <= 3, outputs
    if codes == [0, 2]:
        refused = next(text for text in outputs if "error:" in text)
        assert "already running on this project" in refused, refused
    else:
        # Both ran (one after the other): the second found nothing left to do.
        assert codes == [0, 0], outputs


def test_the_claim_itself_refuses_a_second_task_that_passed_the_check(
    store: Store, settings: Settings, fake_server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window between two processes' checks: the write must still refuse the second."""
    make_project(store, fake_server.url)
    with store.session() as session:
        first = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=1, tags=2, questions=1
        )
        second = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=1, tags=3, questions=1
        )
    with store.session() as session:
        service.claim_task(session, first.task_id, settings, "host:1")
    monkeypatch.setattr(service, "rival_tasks", lambda *args, **kwargs: [])
    with pytest.raises(ConflictError), store.session() as session:
        service.claim_task(session, second.task_id, settings, "host:2")
    with store.session() as session:
        assert service.get_task(session, second.task_id).status == "queued"


def _running_with_questions(store: Store) -> bool:
    with store.session() as session:
        questions = session.scalar(select(func.count(Question.id)))
        running = session.scalar(select(Task.id).where(Task.status == "running"))
    return bool(questions and running)


def test_another_process_running_a_different_kind_of_task_is_refused(
    store: Store, settings: Settings, fake_server: FakeModelServer
) -> None:
    """`answers generate` beside a running `auto` of another process: refused, not doubled.

    The auto process is held (stopped) while its task runs and has questions left to
    answer, so the second command meets it running however loaded the machine is."""
    make_project(store, fake_server.url, max_concurrency=3)
    fake_server.configure(latency=0.05)
    auto = _start(settings.home)
    try:
        _wait_for(lambda: _running_with_questions(store), auto)
        _stop_outside_a_write(auto, store)
        answers = subprocess.run(
            [sys.executable, "-m", "distillset", "answers", "generate", NAME],
            env=os.environ | {"DISTILLSET_HOME": str(settings.home)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        auto.send_signal(signal.SIGCONT)
        output = auto.communicate(timeout=120)[0]

    assert auto.returncode == 0, output
    assert answers.returncode == 2, answers.stdout + answers.stderr
    assert "(auto_distill) is already running on this project" in answers.stderr
    tree = tree_of(store)
    assert (tree.tags, tree.questions, tree.answers, tree.twice_paid) == (12, 18, 18, 0)
    assert fake_server.stats().max_in_flight <= 3
    with store.session() as session:
        # Refused before its task existed: no task is left queued forever.
        statuses = list(session.scalars(select(Task.status)))
    assert statuses == ["succeeded"]


def _can_write(store: Store) -> bool:
    """Whether a write can start now: no stopped process holds the database's write lock
    (SQLite) or a lock on the rows a claim takes (PostgreSQL)."""
    sqlite = store.engine.dialect.name == "sqlite"
    with store.engine.connect() as connection:
        try:
            if sqlite:
                connection.exec_driver_sql("PRAGMA busy_timeout=200")
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.execute(text("SET LOCAL lock_timeout = '200ms'"))
                connection.execute(text("SELECT id FROM projects FOR UPDATE"))
                connection.execute(text("SELECT id FROM tasks FOR UPDATE"))
        except exc.OperationalError:
            return False
        finally:
            connection.rollback()
            if sqlite:  # the pooled connection goes back with the store's own timeout
                connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    return True


def _stop_outside_a_write(process: subprocess.Popen[str], store: Store) -> None:
    """SIGSTOP the process at a moment it holds no database lock (else continue it and try
    again): a process stopped inside a transaction would block every other one."""
    for _ in range(200):
        process.send_signal(signal.SIGSTOP)
        if _can_write(store):
            return
        process.send_signal(signal.SIGCONT)
        time.sleep(0.01)  # let it finish its write
    raise AssertionError("the process never left its database transaction")


def _answers(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count(Answer.id))) or 0)


def _keeps_slots_for(store: Store, pid: int) -> bool:
    """Whether a run has said it keeps request slots free for the process ``pid``."""
    wanted = f"request slots free for process {socket.gethostname()}:{pid}:"
    with store.session() as session:
        return any(wanted in message for message in session.scalars(select(TaskEvent.message)))


def _stale(store: Store, stale_settings: Settings) -> bool:
    with store.session() as session:
        running = session.scalars(select(Task).where(Task.status == "running")).all()
        return bool(running) and all(
            service.effective_status(task, stale_settings) == "interrupted" for task in running
        )


@pytest.mark.usefixtures("database")
def test_a_paused_run_that_was_taken_over_stops_before_sending_again(
    store: Store, settings: Settings, fake_server: FakeModelServer
) -> None:
    """SIGSTOP a run past the stale limit, let a second run take over, SIGCONT the first:
    the first must notice before its next request, stop, and say so."""
    limit = 2
    make_project(store, fake_server.url, max_concurrency=limit)
    fake_server.configure(latency=0.3, log_prompts=False)
    command = ["auto", NAME, "--levels", "2", "--tags", "3", "--questions", "4"]
    stale_settings = load_settings(home=settings.home, heartbeat_stale_seconds=STALE_SECONDS)
    first = _start(settings.home, command, stale=STALE_SECONDS)
    second: subprocess.Popen[str] | None = None
    try:
        _wait_for(lambda: _answers(store) >= 3, first)
        # The requests the first run has out when it is stopped stay open at the server
        # (a slow reply) while the second runs: they still count against the limit.
        arrived = fake_server.stats().total
        fake_server.configure(latency=30.0)
        # Every slot holds a request sent since (the limit bounds what is out at once).
        _wait_for(lambda: fake_server.stats().total >= arrived + limit, first)
        _stop_outside_a_write(first, store)
        fake_server.configure(latency=0.3)
        _wait_for(lambda: _stale(store, stale_settings))
        second = _start(settings.home, command, stale=STALE_SECONDS)
        # The second run takes the task over, and keeps the first's slots free until the
        # first has ended: it stops as soon as it is continued, closing its requests.
        _wait_for(lambda: _keeps_slots_for(store, first.pid), second)
        first.send_signal(signal.SIGCONT)
        first_output = first.communicate(timeout=120)[0]
        second_output = second.communicate(timeout=120)[0]
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.communicate()

    assert first.returncode == 2, first_output
    assert "lost ownership of task" in first_output, first_output
    assert second.returncode == 0, second_output
    tree = tree_of(store)
    assert (tree.tags, tree.questions, tree.answers, tree.duplicates) == (12, 36, 36, 0)
    # Only the requests in flight at the pause can have been paid by both runs.
    assert tree.twice_paid <= limit
    assert fake_server.stats().max_in_flight <= limit
    with store.session() as session:
        statuses = list(session.scalars(select(Task.status)))
        open_requests = list(session.scalars(select(Task.open_requests)))
    assert statuses.count("succeeded") == 1, statuses
    assert open_requests == [0]  # the finished run has nothing out


def test_a_task_whose_process_was_killed_a_moment_ago_does_not_block_a_new_claim(
    store: Store, settings: Settings, fake_server: FakeModelServer
) -> None:
    """Fresh heartbeat, dead owner: the check and the claim's own write both let it go."""
    make_project(store, fake_server.url)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with store.session() as session:
        killed = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=1, tags=2, questions=1
        )
        fresh = jobs.create_auto_job(
            session, settings, resolve.project_id(session, NAME), levels=1, tags=2, questions=1
        )
        task = service.get_task(session, killed.task_id)
        task.status, task.owner = "running", f"{socket.gethostname()}:{gone.pid}:ab12cd"
        task.heartbeat_at = utcnow()
    with store.session() as session:
        claimed = service.claim_task(session, fresh.task_id, settings, service.process_owner())
        assert claimed.status == "running"
