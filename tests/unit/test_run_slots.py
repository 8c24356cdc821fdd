"""Slots kept free for the requests of other processes' runs that may still be alive."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest

from distillset.domain import TaskStatus
from distillset.llm.limiter import Limiter
from distillset.projects import create_project
from distillset.runs.slots import OpenElsewhere, SlotsHeld, open_elsewhere
from distillset.store import Store, Task, utcnow

HOST = socket.gethostname()
GONE_PID = 2**22 + 7  # above the usual pid_max: no such process


def _running(store: Store, project_id: int, owner: str, open_requests: int) -> None:
    with store.session() as session:
        session.add(
            Task(
                project_id=project_id,
                kind="answers",
                params={},
                counters={},
                status=TaskStatus.RUNNING.value,
                owner=owner,
                open_requests=open_requests,
                heartbeat_at=utcnow() - timedelta(minutes=5),
            )
        )


@pytest.mark.usefixtures("database")
def test_only_other_processes_that_may_be_alive_hold_slots(store: Store) -> None:
    with store.session() as session:
        project_id = create_project(session, "p").id
    parent = f"{HOST}:{os.getppid()}:a1b2c3"  # alive, another process
    _running(store, project_id, parent, 3)
    _running(store, project_id, f"{HOST}:{GONE_PID}:d4e5f6", 2)  # ended
    _running(store, project_id, f"{HOST}:{os.getpid()}:0a0b0c", 4)  # this process
    _running(store, project_id, "elsewhere:123:eeeeee", 1)  # another host: cannot tell
    with store.session() as session:
        found = sorted((o.owner, o.requests) for o in open_elsewhere(session, project_id))
    assert found == [("elsewhere:123:eeeeee", 1), (parent, 3)]


def test_slots_come_back_when_the_process_ends_or_off_host_requests_run_out() -> None:
    limiter = Limiter(8)
    said: list[str] = []
    now = utcnow()
    others = [
        OpenElsewhere(f"{HOST}:{os.getppid()}:a1b2c3", 3, now - timedelta(hours=1)),
        OpenElsewhere(f"{HOST}:{GONE_PID}:d4e5f6", 2, now),
        OpenElsewhere("elsewhere:123:eeeeee", 1, now - timedelta(seconds=60)),
        OpenElsewhere("elsewhere:456:ffffff", 1, now),
    ]
    held = SlotsHeld(limiter, others, give_up_after=30.0, say=said.append)
    assert held.held == 7 and len(said) == 4
    assert "on another host" in said[2] and "was it stopped?" in said[0]
    held.release_ended()
    # Alive on this host: held however old its heartbeat; gone: released; off host:
    # released once a live client would have given up.
    assert held.held == 3 + 1
    held.release_all()
    assert held.held == 0 and limiter.reserve(8) == 8
