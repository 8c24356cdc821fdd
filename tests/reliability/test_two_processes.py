"""Two `distillset auto` processes on one project at once: one runs, the other is refused.

Whatever the interleaving, the tree ends exact with no duplicates, and the fake server never
sees more requests in flight than the project's limit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reliability_support import NAME, make_project, tree_of
from sqlalchemy import func, select

from distillset.config import Settings
from distillset.distill import jobs
from distillset.domain import ConflictError
from distillset.store import Question, Store, Task
from distillset.store.models import utcnow
from distillset.tasks import service
from distillset.testing import FakeModelServer

AUTO = ["auto", NAME, "--levels", "2", "--tags", "3", "--questions", "2"]


def _start(home: Path) -> subprocess.Popen[str]:
    env = os.environ | {"DISTILLSET_HOME": str(home)}
    command = [sys.executable, "-m", "distillset", *AUTO]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


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
        first = jobs.create_auto_job(session, settings, NAME, levels=1, tags=2, questions=1)
        second = jobs.create_auto_job(session, settings, NAME, levels=1, tags=2, questions=1)
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
    """`answers generate` beside a running `auto` of another process: refused, not doubled."""
    make_project(store, fake_server.url, max_concurrency=3)
    fake_server.configure(latency=0.4)  # auto outlasts the second start
    env = os.environ | {"DISTILLSET_HOME": str(settings.home)}
    auto = _start(settings.home)
    try:
        # Poll (bounded) until the auto task runs and has questions to answer.
        deadline = time.monotonic() + 60
        while not _running_with_questions(store):
            assert auto.poll() is None and time.monotonic() < deadline, "auto never got going"
            time.sleep(0.02)
        answers = subprocess.run(
            [sys.executable, "-m", "distillset", "answers", "generate", NAME],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        output = auto.communicate(timeout=120)[0]

    assert auto.returncode == 0, output
    assert answers.returncode == 2, answers.stdout + answers.stderr
    assert "(auto_distill) is already running on this project" in answers.stderr
    tree = tree_of(store)
    assert (tree.tags, tree.questions, tree.answers, tree.twice_paid) == (12, 18, 18, 0)
    assert fake_server.stats().max_in_flight <= 3


def test_a_task_whose_process_was_killed_a_moment_ago_does_not_block_a_new_claim(
    store: Store, settings: Settings, fake_server: FakeModelServer
) -> None:
    """Fresh heartbeat, dead owner: the check and the claim's own write both let it go."""
    make_project(store, fake_server.url)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with store.session() as session:
        killed = jobs.create_auto_job(session, settings, NAME, levels=1, tags=2, questions=1)
        fresh = jobs.create_auto_job(session, settings, NAME, levels=1, tags=2, questions=1)
        task = service.get_task(session, killed.task_id)
        task.status, task.owner = "running", f"{socket.gethostname()}:{gone.pid}:ab12cd"
        task.heartbeat_at = utcnow()
    with store.session() as session:
        claimed = service.claim_task(session, fresh.task_id, settings, service.process_owner())
        assert claimed.status == "running"
