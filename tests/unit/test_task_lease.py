"""A run's ownership: the lease its requests wait for, and the heartbeat that renews it."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from distillset.auto.plan import Plan, auto_spec, tags_spec
from distillset.auto.run import create_task
from distillset.config import Settings
from distillset.domain import ConflictError, TaskKind
from distillset.projects import lifecycle as projects
from distillset.runs import rows as service
from distillset.runs.lease import OwnershipLease
from distillset.store import Project, Store, Task
from distillset.store.models import utcnow

ME = "host-a:100:aaaaaa"
RIVAL = "host-b:200:bbbbbb"


def test_the_lease_is_shorter_than_the_stale_limit_and_expires_with_time() -> None:
    lease = OwnershipLease(30.0)
    assert 0 < lease.seconds < 30.0
    assert not lease.holds()  # never confirmed
    lease.confirm(time.monotonic())
    assert lease.holds()
    lease.confirm(time.monotonic() - lease.seconds - 1)  # as after a long SIGSTOP
    assert not lease.holds()


def test_a_request_waits_for_the_next_confirmation_once_the_lease_expired() -> None:
    async def scenario() -> None:
        lease = OwnershipLease(30.0)
        lease.confirm(time.monotonic() - lease.seconds - 1)
        waiting = asyncio.create_task(lease.wait_until_held())
        await asyncio.sleep(0)
        assert not waiting.done()
        lease.confirm(time.monotonic())
        await asyncio.wait_for(waiting, 5)

    asyncio.run(scenario())


@pytest.fixture
def project_id(database: str, store: Store) -> int:
    """A project on SQLite, then on PostgreSQL."""
    with store.session() as session:
        return projects.create_project(session, "P").id


def _running(
    store: Store, project_id: int, owner: str, *, kind: TaskKind, minutes_ago: float = 0
) -> int:
    """A task of the project running in ``owner``, claimed (and last beating) then."""
    with store.session() as session:
        project = session.get(Project, project_id)
        spec = auto_spec() if kind is TaskKind.AUTO_DISTILL else tags_spec(None, 3)
        task = create_task(session, project, kind, spec, Plan(3))
        started = utcnow() - timedelta(minutes=minutes_ago)
        task.status, task.owner = "running", owner
        task.started_at = task.heartbeat_at = started
        session.flush()
        return task.id


def test_the_heartbeat_confirms_the_owner_and_writes_nothing_for_another(
    store: Store, settings: Settings, project_id: int
) -> None:
    task_id = _running(store, project_id, ME, kind=TaskKind.AUTO_DISTILL)
    with store.session() as session:
        assert service.renew_claim(session, task_id, settings, ME) is None
    with store.session() as session:
        task = session.get(Task, task_id)
        assert task is not None
        task.owner = RIVAL  # taken over while this run was stopped
    with store.session() as session:
        lost = service.renew_claim(session, task_id, settings, ME)
    assert lost is not None and f"taken over by process {RIVAL}" in lost


def test_a_rival_that_claimed_the_project_after_this_run_started_wins_it(
    store: Store, settings: Settings, project_id: int
) -> None:
    mine = _running(store, project_id, ME, kind=TaskKind.AUTO_DISTILL, minutes_ago=10)
    rival = _running(
        store, project_id, RIVAL, kind=TaskKind.TAGS
    )  # claimed while mine looked stale
    with store.session() as session:
        lost = service.renew_claim(session, mine, settings, ME)
    assert lost is not None and f"task {rival} (tags)" in lost
    with store.session() as session:
        # The rival, which was running already when this run claimed, keeps its task.
        assert service.renew_claim(session, rival, settings, RIVAL) is None


def test_a_claim_fails_when_the_stale_owner_renewed_its_heartbeat_meanwhile(
    store: Store, settings: Settings, project_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = _running(store, project_id, ME, kind=TaskKind.AUTO_DISTILL, minutes_ago=10)
    real_rivals = service.rival_tasks

    def owner_wakes_up(*args: object, **kwargs: object) -> list[Task]:
        # Between the claim's read (stale) and its write, the stopped owner is continued.
        with store.session() as other:
            assert service.renew_claim(other, task_id, settings, ME) is None
        return real_rivals(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "rival_tasks", owner_wakes_up)
    with store.session() as session, pytest.raises(ConflictError, match="already running"):
        service.claim_task(session, task_id, settings, RIVAL)
    with store.session() as session:
        task = session.get(Task, task_id)
        assert task is not None and task.owner == ME
