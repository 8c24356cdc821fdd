"""Two `distillset auto` processes on one project at once: one runs, the other is refused.

Whatever the interleaving, the tree ends exact with no duplicates, and the fake server never
sees more requests in flight than the project's limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_support import NAME, make_project, tree_of

from distillset.config import Settings
from distillset.distill import jobs
from distillset.domain import ConflictError
from distillset.store import Store
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
    monkeypatch.setattr(service, "live_task", lambda *args, **kwargs: None)
    with pytest.raises(ConflictError), store.session() as session:
        service.claim_task(session, second.task_id, settings, "host:2")
    with store.session() as session:
        assert service.get_task(session, second.task_id).status == "queued"
