"""Task rows: status as users see it, cancel, claim."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from distillset.auto.plan import Plan, auto_spec
from distillset.auto.run import create_task
from distillset.config import Settings
from distillset.domain import ConflictError, TaskKind
from distillset.projects import lifecycle as projects
from distillset.runs import rows as service
from distillset.store import Store, Task
from distillset.store.models import utcnow


def make_task(store: Store, **fields: object) -> int:
    with store.session() as session:
        project = projects.create_project(session, f"P{utcnow().timestamp()}")
        task = create_task(session, project, TaskKind.AUTO_DISTILL, auto_spec(), Plan(3))
        for name, value in fields.items():
            setattr(task, name, value)
        return task.id


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_fresh_running_task_is_running_and_cannot_be_claimed(
    store: Store, settings: Settings
) -> None:
    task_id = make_task(store, status="running", owner=f"{socket.gethostname()}:{os.getpid()}:x",
                        heartbeat_at=utcnow())  # fmt: skip
    with store.session() as session:
        task = service.get_task(session, task_id)
        assert service.effective_status(task, settings).value == "running"
        with pytest.raises(ConflictError, match="already running"):
            service.claim_task(session, task_id, settings, "me:1:y")


@pytest.mark.parametrize("why", ["stale heartbeat", "owner process gone"])
def test_a_running_task_whose_process_died_is_interrupted_and_claimable(
    store: Store, settings: Settings, why: str
) -> None:
    if why == "stale heartbeat":
        beat = utcnow() - timedelta(seconds=settings.heartbeat_stale_seconds + 5)
        owner = "another-host:1:z"
    else:
        beat, owner = utcnow(), f"{socket.gethostname()}:{dead_pid()}:z"
    task_id = make_task(store, status="running", owner=owner, heartbeat_at=beat)

    with store.session() as session:
        listed = service.list_tasks(session, settings)
        assert [task.status for task in listed] == ["interrupted"]
        claimed = service.claim_task(session, task_id, settings, "me:1:y")
        assert claimed.status == "running" and claimed.owner == "me:1:y"


def test_cancel_a_queued_task_at_once_and_refuse_a_finished_one(
    store: Store, settings: Settings
) -> None:
    queued = make_task(store)
    running = make_task(store, status="running", owner="another-host:1:z", heartbeat_at=utcnow())
    done = make_task(store, status="succeeded")
    with store.session() as session:
        assert service.request_cancel(session, session.get(Task, queued), settings).status == (
            "cancelled"
        )
        asked = service.request_cancel(session, session.get(Task, running), settings)
        assert asked.status == "running" and asked.cancel_requested
        with pytest.raises(ConflictError, match="already finished"):
            service.request_cancel(session, session.get(Task, done), settings)


def test_task_as_dict_carries_counters_and_never_a_key(store: Store, settings: Settings) -> None:
    task_id = make_task(store)
    with store.session() as session:
        data = service.task_as_dict(service.get_task(session, task_id), settings, "P")
    assert data["status"] == "queued" and data["counters"]["tags"]["planned"] == 3
    assert data["params"]["levels"] == 2 and "api_key" not in str(data)
