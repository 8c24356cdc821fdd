"""One job, several workers (PostgreSQL): its items, the project's slots, who takes part.

A shared job's items (questions to answer) are rows of ``work_items``. A worker claims a few
at a time with ``FOR UPDATE SKIP LOCKED`` (two workers never take the same row, and neither
waits for the other's transaction), holds them under a lease it renews with its heartbeat,
and marks each finished. A worker that dies loses only what it had in flight: its items'
leases run out and another worker claims them again; a reply it had stored already answers
them from the response cache.

The project's concurrency limit holds across workers through ``slot_leases``: one row per
slot, each leased by at most one worker until it expires. A worker sends only on the slots it
holds (``Limiter.set_share``), takes its fair part of them (the limit divided among the
workers of the job that are alive, ``task_workers``), and gives back idle ones above it. A
dead worker's slots come back once their lease runs out: by then its requests have ended.

SQLite has no row locks to skip; a job there runs in one process (the worker that claimed it).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from datetime import timedelta
from typing import Protocol

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from distillset.store import SlotLease, Store, TaskWorker, WorkItem, utcnow

# Item outcomes.
DONE, FAILED, SKIPPED = "done", "failed", "skipped"
OUTCOMES = (DONE, FAILED, SKIPPED)


def can_share(store: Store) -> bool:
    """Whether several workers can share one job in this store (row locks: PostgreSQL)."""
    return store.engine.dialect.name == "postgresql"


class SharedPool(Protocol):
    """The project's limiter, as a worker sharing its slots uses it."""

    max_concurrency: int

    @property
    def in_flight(self) -> int: ...

    def set_share(self, slots: int | None) -> None: ...


class SharedItems:
    """The items of one shared job, as one worker claims and finishes them."""

    def __init__(self, store: Store, task_id: int, owner: str, lease_seconds: float) -> None:
        self.store, self.task_id, self.owner = store, task_id, owner
        self.lease = timedelta(seconds=lease_seconds)
        self._finished: list[tuple[int, str]] = []
        self.ended = 0  # items this worker finished

    def plan(self, targets: list[int]) -> None:
        """The job's items as planned now (a run that starts or resumes it): finished items
        leave (what is done is no longer planned; what failed is planned again), and the
        planned ones are added unless they are there (claimed by a worker still at it)."""
        with self.store.session() as session:
            session.execute(
                delete(WorkItem).where(
                    WorkItem.task_id == self.task_id, WorkItem.outcome.is_not(None)
                )
            )
        self.add(targets)

    def add(self, targets: list[int]) -> None:
        """New items of the job (questions just created), ready for any worker."""
        if not targets:
            return
        rows = [{"task_id": self.task_id, "target": target} for target in targets]
        with self.store.session() as session:
            session.execute(pg_insert(WorkItem).values(rows).on_conflict_do_nothing())

    def claim(self, count: int) -> list[int]:
        """Up to ``count`` unfinished items that no worker holds (or whose lease ran out),
        now held by this worker; none locked by another claim in progress is waited for."""
        now = utcnow()
        free = (
            select(WorkItem.id)
            .where(
                WorkItem.task_id == self.task_id,
                WorkItem.outcome.is_(None),
                or_(WorkItem.lease_until.is_(None), WorkItem.lease_until < now),
            )
            .order_by(WorkItem.id)
            .limit(count)
            .with_for_update(skip_locked=True)
        )
        with self.store.session() as session:
            claimed = session.scalars(
                update(WorkItem)
                .where(WorkItem.id.in_(free.scalar_subquery()))
                .values(owner=self.owner, lease_until=now + self.lease)
                .returning(WorkItem.target)
            )
            return sorted(claimed)

    def finished(self, target: int, outcome: str) -> None:
        """An item this worker finished; written with the next ``flush``."""
        self._finished.append((target, outcome))
        self.ended += 1

    def flush(self) -> None:
        """Write the outcomes of the items finished since the last flush."""
        finished, self._finished = self._finished, []
        if not finished:
            return
        with self.store.session() as session:
            for outcome in OUTCOMES:
                targets = [target for target, result in finished if result == outcome]
                if targets:
                    session.execute(
                        update(WorkItem)
                        .where(WorkItem.task_id == self.task_id, WorkItem.target.in_(targets))
                        .values(outcome=outcome, lease_until=None)
                    )

    def renew(self, session: Session) -> None:
        """Extend the leases of the items this worker holds (with its heartbeat)."""
        session.execute(
            update(WorkItem)
            .where(
                WorkItem.task_id == self.task_id,
                WorkItem.owner == self.owner,
                WorkItem.outcome.is_(None),
            )
            .values(lease_until=utcnow() + self.lease)
        )

    def release(self) -> None:
        """Give back the unfinished items this worker holds (it stops cleanly)."""
        self.flush()
        with self.store.session() as session:
            session.execute(
                update(WorkItem)
                .where(
                    WorkItem.task_id == self.task_id,
                    WorkItem.owner == self.owner,
                    WorkItem.outcome.is_(None),
                )
                .values(owner=None, lease_until=None)
            )

    def held_elsewhere(self) -> int:
        """Unfinished items another worker holds under a lease that has not run out."""
        with self.store.session() as session:
            return int(
                session.scalar(
                    select(func.count(WorkItem.id)).where(
                        WorkItem.task_id == self.task_id,
                        WorkItem.outcome.is_(None),
                        WorkItem.owner != self.owner,
                        WorkItem.lease_until >= utcnow(),
                    )
                )
                or 0
            )

    def tally(self, session: Session) -> dict[str, int]:
        """How many items ended in each outcome (by any worker)."""
        rows = session.execute(
            select(WorkItem.outcome, func.count(WorkItem.id))
            .where(WorkItem.task_id == self.task_id, WorkItem.outcome.is_not(None))
            .group_by(WorkItem.outcome)
        )
        return {str(outcome): int(count) for outcome, count in rows}


def join_job(session: Session, task_id: int, owner: str) -> None:
    """Say that this worker takes part in the job, as of now (its heartbeat)."""
    session.execute(
        pg_insert(TaskWorker)
        .values(task_id=task_id, owner=owner, heartbeat_at=utcnow())
        .on_conflict_do_update(index_elements=["task_id", "owner"], set_={"heartbeat_at": utcnow()})
    )


def leave_job(store: Store, task_id: int, owner: str) -> None:
    with store.session() as session:
        session.execute(
            delete(TaskWorker).where(TaskWorker.task_id == task_id, TaskWorker.owner == owner)
        )


def workers_alive(session: Session, task_id: int, stale_seconds: float) -> int:
    """The workers of the job whose heartbeat is fresh (at least this one)."""
    since = utcnow() - timedelta(seconds=stale_seconds)
    count = session.scalar(
        select(func.count()).where(TaskWorker.task_id == task_id, TaskWorker.heartbeat_at > since)
    )
    return max(1, int(count or 0))


# When its part changes (a worker joined or left), a worker rebalances its slots this often
# rather than once a heartbeat, until it holds its part or SETTLE_SECONDS pass: a worker that
# joins gets the slots another gives back as soon as that one's requests above its part end.
SETTLE_EVERY, SETTLE_SECONDS = 0.1, 1.0


class SharedSlots:
    """This worker's part of the project's request slots, leased in the database."""

    def __init__(
        self,
        store: Store,
        pool: SharedPool,
        *,
        project_id: int,
        task_id: int,
        owner: str,
        lease_seconds: float,
    ) -> None:
        self.store, self.pool = store, pool
        self.project_id, self.task_id, self.owner = project_id, task_id, owner
        self.lease = timedelta(seconds=lease_seconds)
        self.stale_seconds = lease_seconds
        self.held = 0
        self.target = 0  # its part, as of the last rebalance
        self._settle_until = 0.0
        pool.set_share(0)  # nothing goes out before a slot is leased

    def rebalance(self, session: Session) -> None:
        """Renew this worker's slots, then take its fair part of the free ones or give back
        idle ones above it. Runs with the heartbeat, in its transaction."""
        limit = self.pool.max_concurrency
        now = utcnow()
        self._ensure_rows(session, limit)
        mine = list(
            session.scalars(
                update(SlotLease)
                .where(
                    SlotLease.project_id == self.project_id,
                    SlotLease.owner == self.owner,
                    SlotLease.slot < limit,
                )
                .values(expires_at=now + self.lease)
                .returning(SlotLease.slot)
            )
        )
        # (Fewer than before: a lease ran out while this worker was stopped, and was taken.)
        self.held = len(mine)
        target = math.ceil(limit / workers_alive(session, self.task_id, self.stale_seconds))
        if target != self.target:
            self.target, self._settle_until = target, time.monotonic() + SETTLE_SECONDS
        if self.held < target:
            self.held += self._take(session, target - self.held, limit)
        elif self.held > target:
            # No new request above the target from now on; the slots of requests out above
            # it are given back at a later beat, once they are idle.
            idle = self.held - max(target, self.pool.in_flight)
            if idle > 0:
                self._give(session, sorted(mine)[-idle:])
                self.held -= idle
        self.pool.set_share(min(self.held, target))

    @property
    def settling(self) -> bool:
        """Whether its part changed lately and it does not hold it yet."""
        return self.held != self.target and time.monotonic() < self._settle_until

    async def wait_for_beat(self, stop: asyncio.Event, seconds: float) -> None:
        """Wait ``seconds`` for the next heartbeat (less once ``stop`` is set), rebalancing
        meanwhile while the slots settle."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            settling = self.settling
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(left, SETTLE_EVERY) if settling else left)
            if stop.is_set():
                return
            if settling and deadline - time.monotonic() > SETTLE_EVERY / 2:
                # (A failure here is the heartbeat's to report: it meets the same database.)
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self._rebalance_now)

    def _rebalance_now(self) -> None:
        with self.store.session() as session:
            self.rebalance(session)

    def _ensure_rows(self, session: Session, limit: int) -> None:
        have = session.scalar(
            select(func.count()).where(
                SlotLease.project_id == self.project_id, SlotLease.slot < limit
            )
        )
        if (have or 0) < limit:
            rows = [{"project_id": self.project_id, "slot": slot} for slot in range(limit)]
            session.execute(pg_insert(SlotLease).values(rows).on_conflict_do_nothing())

    def _take(self, session: Session, count: int, limit: int) -> int:
        now = utcnow()
        free = (
            select(SlotLease.slot)
            .where(
                SlotLease.project_id == self.project_id,
                SlotLease.slot < limit,
                or_(SlotLease.owner.is_(None), SlotLease.expires_at < now),
            )
            .order_by(SlotLease.slot)
            .limit(count)
            .with_for_update(skip_locked=True)
        )
        taken = session.scalars(
            update(SlotLease)
            .where(
                SlotLease.project_id == self.project_id,
                SlotLease.slot.in_(free.scalar_subquery()),
            )
            .values(owner=self.owner, expires_at=now + self.lease)
            .returning(SlotLease.slot)
        ).all()
        return len(taken)

    def _give(self, session: Session, slots: list[int]) -> None:
        session.execute(
            update(SlotLease)
            .where(
                SlotLease.project_id == self.project_id,
                SlotLease.owner == self.owner,
                SlotLease.slot.in_(slots),
            )
            .values(owner=None, expires_at=None)
        )

    def release_all(self) -> None:
        """Give back every slot (the run ended: its requests are back) and the whole limit
        to this process's later runs."""
        with self.store.session() as session:
            session.execute(
                update(SlotLease)
                .where(SlotLease.project_id == self.project_id, SlotLease.owner == self.owner)
                .values(owner=None, expires_at=None)
            )
        self.held = 0
        self.pool.set_share(None)
