"""One job, several workers (PostgreSQL): its items, the project's slots, who takes part.

A shared job's items are rows of ``work_items``, each of a stage: a tag to expand, a leaf to
top up with questions, a question to answer. Finishing one adds the items it leads to (the
children of an expansion, the questions of a top-up), so any worker goes on from it.
A worker claims a few at a time with ``FOR UPDATE SKIP LOCKED`` (two workers never take the
same row, and neither waits for the other's transaction), holds them under a lease it renews
with its heartbeat, and marks each finished. A worker that dies loses only what it had in
flight: its items' leases run out and another worker claims them again. A reply it had
stored answers them from the response cache; an expansion or top-up done again only tops up
(what the dead worker stored counts) and adds the items that follow from what is stored.

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
from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol

from sqlalchemy import any_, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningUpdate

from distillset.store import SlotLease, Store, TaskWorker, WorkItem, utcnow
from distillset.store.models import WORK_ITEM_RANK

# Item outcomes.
DONE, FAILED, SKIPPED = "done", "failed", "skipped"
OUTCOMES = (DONE, FAILED, SKIPPED)
# Item stages, in the order a worker claims them: the tree fans out before it is answered.
EXPAND, QUESTIONS, ANSWER = "expand", "questions", "answer"
STAGES = (EXPAND, QUESTIONS, ANSWER)
# The claim order, as the text of the index that serves it (ix_work_items_free).
_STAGE_ORDER = text(WORK_ITEM_RANK)

# A plan of at least this many items updates the table's statistics (see ``plan``).
_ANALYZE_AFTER = 1_000

# (stage, target): one item of a job.
Item = tuple[str, int]


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
        # (stage, target, outcome, rows made, rows short) of items finished, not yet written
        self._finished: list[tuple[str, int, str, int | None, int | None]] = []
        self.ended = 0  # items this worker finished

    def plan(self, items: Iterable[Item]) -> None:
        """The job's items as planned now (a run that starts or resumes it): finished items
        leave (what is done is no longer planned; what failed is planned again), and the
        planned ones are added unless they are there (claimed by a worker still at it)."""
        with self.store.session() as session:
            session.execute(
                delete(WorkItem).where(
                    WorkItem.task_id == self.task_id, WorkItem.outcome.is_not(None)
                )
            )
        by_stage: dict[str, list[int]] = {}
        for stage, target in items:
            by_stage.setdefault(stage, []).append(target)
        for stage, targets in by_stage.items():
            self.add(targets, stage)
        if sum(map(len, by_stage.values())) >= _ANALYZE_AFTER:
            # Statistics taken before a bulk insert say the table is nearly empty, and the
            # planner then scans every item of the job to finish a few (until autovacuum
            # comes round, a minute or more later): PostgreSQL's advice after a bulk load.
            with self.store.session() as session:
                session.execute(text("ANALYZE work_items"))

    def add(self, targets: list[int], stage: str = ANSWER) -> None:
        """New items of the job, ready for any worker; one that is there already (claimed,
        or finished in this run) stays as it is."""
        if not targets:
            return
        if stage not in STAGES:
            raise ValueError(f"unknown work item stage {stage!r}")
        rows = [{"task_id": self.task_id, "stage": stage, "target": t} for t in targets]
        with self.store.session() as session:
            # Parameters beside the statement (executemany, sent in pages), not one VALUES
            # clause compiled with every row: that took a second for a few thousand items.
            session.execute(pg_insert(WorkItem).on_conflict_do_nothing(), rows)

    def claim(self, count: int) -> list[Item]:
        """Up to ``count`` unfinished items that no worker holds (or whose lease ran out),
        expansions first, now held by this worker; none locked by another claim in progress
        is waited for."""
        with self.store.session() as session:
            claimed = session.execute(self.claim_statement(count))
            items = [(str(stage), int(target)) for stage, target in claimed]
        return sorted(items, key=lambda item: (STAGES.index(item[0]), item[1]))

    def claim_statement(self, count: int) -> ReturningUpdate[str, int]:
        """The claim's one statement: it takes the free items through ix_work_items_free, in
        its order, and holds them (their stage and target returned)."""
        now = utcnow()
        free = (
            select(WorkItem.id)
            .where(
                WorkItem.task_id == self.task_id,
                WorkItem.outcome.is_(None),
                or_(WorkItem.lease_until.is_(None), WorkItem.lease_until < now),
            )
            .order_by(_STAGE_ORDER, WorkItem.id)
            .limit(count)
            .with_for_update(skip_locked=True)
        )
        return (
            update(WorkItem)
            # = ANY(ARRAY(...)), not IN (...): the planner then finds the few rows by key,
            # where a semi-join read the whole table.
            .where(WorkItem.id == any_(func.array(free.scalar_subquery())))
            .values(owner=self.owner, lease_until=now + self.lease)
            .returning(WorkItem.stage, WorkItem.target)
        )

    def finished(
        self,
        target: int,
        outcome: str,
        stage: str = ANSWER,
        *,
        made: int | None = None,
        short: int | None = None,
    ) -> None:
        """An item this worker finished (an expansion or top-up: the rows it made, and those
        it wanted and could not make); written with the next ``flush``."""
        self._finished.append((stage, target, outcome, made, short))
        self.ended += 1

    def flush(self) -> None:
        """Write the outcomes of the items finished since the last flush."""
        finished, self._finished = self._finished, []
        if not finished:
            return
        answers: dict[str, list[int]] = {}
        with self.store.session() as session:
            for stage, target, outcome, made, short in finished:
                if stage == ANSWER:  # the many: one statement per outcome
                    answers.setdefault(outcome, []).append(target)
                    continue
                session.execute(
                    update(WorkItem)
                    .where(
                        WorkItem.task_id == self.task_id,
                        WorkItem.stage == stage,
                        WorkItem.target == target,
                    )
                    .values(outcome=outcome, lease_until=None, made=made, short=short)
                )
            for outcome, targets in answers.items():
                session.execute(
                    update(WorkItem)
                    .where(
                        WorkItem.task_id == self.task_id,
                        WorkItem.stage == ANSWER,
                        WorkItem.target.in_(targets),
                    )
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

    def held_elsewhere(self, stages: Iterable[str] = STAGES) -> int:
        """Unfinished items of ``stages`` another worker holds under a lease that has not run
        out."""
        with self.store.session() as session:
            return int(
                session.scalar(
                    select(func.count(WorkItem.id)).where(
                        WorkItem.task_id == self.task_id,
                        WorkItem.stage.in_(list(stages)),
                        WorkItem.outcome.is_(None),
                        WorkItem.owner != self.owner,
                        WorkItem.lease_until >= utcnow(),
                    )
                )
                or 0
            )

    def tally(self, session: Session, stage: str = ANSWER) -> dict[str, int]:
        """How many items of ``stage`` ended in each outcome (by any worker)."""
        rows = session.execute(
            select(WorkItem.outcome, func.count(WorkItem.id))
            .where(
                WorkItem.task_id == self.task_id,
                WorkItem.stage == stage,
                WorkItem.outcome.is_not(None),
            )
            .group_by(WorkItem.outcome)
        )
        return {str(outcome): int(count) for outcome, count in rows}

    def rows(self, session: Session, stage: str) -> tuple[int, int]:
        """The rows the finished items of ``stage`` made, and those they could not make (by
        any worker): an expansion's tags, a top-up's questions."""
        made, short = session.execute(
            select(
                func.coalesce(func.sum(WorkItem.made), 0),
                func.coalesce(func.sum(WorkItem.short), 0),
            ).where(WorkItem.task_id == self.task_id, WorkItem.stage == stage)
        ).one()
        return int(made or 0), int(short or 0)


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
