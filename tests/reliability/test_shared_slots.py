"""The project's slots and a shared job's items, leased in PostgreSQL by several workers:
fair parts within the limit, slots and items of a dead worker back once its leases run out,
no item claimed twice."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql

from distillset.llm.limiter import Limiter
from distillset.runs.shared import ANSWER, EXPAND, QUESTIONS, SharedItems, SharedSlots, join_job
from distillset.store import Project, SlotLease, Store, Task

LIMIT = 6
LEASE_SECONDS = 1.0


@pytest.fixture
def task_id(postgres_url: str, store: Store) -> int:
    with store.session() as session:
        project = Project(name="Shared", topic="Shared", max_concurrency=LIMIT)
        session.add(project)
        session.flush()
        task = Task(project_id=project.id, kind="answers", status="running", params={})
        session.add(task)
        session.flush()
        return task.id


def _worker(store: Store, task_id: int, owner: str) -> tuple[Limiter, SharedSlots]:
    pool = Limiter(LIMIT)
    with store.session() as session:
        project_id = session.get_one(Task, task_id).project_id
    slots = SharedSlots(
        store, pool, project_id=project_id, task_id=task_id, owner=owner,
        lease_seconds=LEASE_SECONDS,
    )  # fmt: skip
    return pool, slots


def _beat(store: Store, task_id: int, slots: SharedSlots) -> None:
    with store.session() as session:
        join_job(session, task_id, slots.owner)
        slots.rebalance(session)


def test_workers_share_the_slots_fairly_and_a_dead_ones_come_back(
    store: Store, task_id: int
) -> None:
    first_pool, first = _worker(store, task_id, "host:1:a")
    _beat(store, task_id, first)
    assert (first.held, first_pool.usable) == (LIMIT, LIMIT)  # alone: the whole limit

    second_pool, second = _worker(store, task_id, "host:2:b")
    _beat(store, task_id, second)
    assert second.held == 0  # all taken, and the first's are idle only from its next beat
    _beat(store, task_id, first)
    _beat(store, task_id, second)
    assert (first.held, second.held) == (LIMIT // 2, LIMIT // 2)
    assert (first_pool.usable, second_pool.usable) == (LIMIT // 2, LIMIT // 2)

    time.sleep(LEASE_SECONDS + 0.2)  # the first worker died: no beat renews its leases
    _beat(store, task_id, second)
    assert second.held == LIMIT
    with store.session() as session:
        owners = set(session.scalars(select(SlotLease.owner)))
    assert owners == {"host:2:b"}


def test_a_worker_above_its_part_keeps_its_busy_slots_until_they_are_idle(
    store: Store, task_id: int
) -> None:
    first_pool, first = _worker(store, task_id, "host:1:a")
    _beat(store, task_id, first)
    for _ in range(LIMIT):  # every slot busy
        first_pool._take_slot_or_queue()
    _, second = _worker(store, task_id, "host:2:b")
    _beat(store, task_id, second)
    _beat(store, task_id, first)

    assert first.held == LIMIT  # its requests are out: nothing to give back yet
    assert first_pool.usable == LIMIT // 2  # but no new request above its part
    for _ in range(LIMIT):
        first_pool._release_slot()
    _beat(store, task_id, first)
    _beat(store, task_id, second)
    assert (first.held, second.held) == (LIMIT // 2, LIMIT // 2)


def test_parts_settle_between_heartbeats_once_a_worker_joins(store: Store, task_id: int) -> None:
    first_pool, first = _worker(store, task_id, "host:1:a")
    _beat(store, task_id, first)
    for _ in range(LIMIT):  # every slot busy
        first_pool._take_slot_or_queue()
    _, second = _worker(store, task_id, "host:2:b")
    _beat(store, task_id, second)
    _beat(store, task_id, first)
    assert (first.held, second.held) == (LIMIT, 0)
    assert first.settling and second.settling

    async def between_beats() -> None:
        # The first worker's requests above its part end meanwhile; no heartbeat runs.
        both = [
            first.wait_for_beat(asyncio.Event(), 2.0),
            second.wait_for_beat(asyncio.Event(), 2.0),
        ]
        waits = asyncio.gather(*both)
        await asyncio.sleep(0.3)
        for _ in range(LIMIT):
            first_pool._release_slot()
        await waits

    asyncio.run(between_beats())
    assert (first.held, second.held) == (LIMIT // 2, LIMIT // 2)
    assert not first.settling and not second.settling


def test_items_are_claimed_once_and_a_dead_workers_come_back(store: Store, task_id: int) -> None:
    items = [SharedItems(store, task_id, f"host:{n}:w", LEASE_SECONDS) for n in range(4)]
    items[0].plan([(ANSWER, target) for target in range(1, 101)])

    with ThreadPoolExecutor(4) as pool:
        claimed = list(pool.map(lambda worker: worker.claim(30), items))

    everything = [item for part in claimed for item in part]
    assert len(everything) == len(set(everything)) == 100  # 30+30+30+10, none twice
    for _stage, target in claimed[1]:
        items[1].finished(target, "done")
    items[1].flush()
    assert items[0].claim(10) == []  # the others hold theirs
    time.sleep(LEASE_SECONDS + 0.2)  # all but worker 1 died
    again = items[1].claim(100)
    assert sorted(again) == sorted(claimed[0] + claimed[2] + claimed[3])
    with store.session() as session:
        assert items[1].tally(session) == {"done": len(claimed[1])}


def test_items_of_each_stage_are_claimed_expansions_first_and_counted_apart(
    store: Store, task_id: int
) -> None:
    worker = SharedItems(store, task_id, "host:1:w", LEASE_SECONDS)
    # The same target in two stages is two items (tag 7 expanded, question 7 answered).
    worker.plan([(ANSWER, 7), (ANSWER, 8), (QUESTIONS, 9), (EXPAND, 7)])
    worker.add([9], QUESTIONS)  # there already: still one item
    assert worker.claim(2) == [(EXPAND, 7), (QUESTIONS, 9)]
    assert worker.claim(5) == [(ANSWER, 7), (ANSWER, 8)]
    other = SharedItems(store, task_id, "host:2:w", LEASE_SECONDS)
    assert other.held_elsewhere() == 4
    assert other.held_elsewhere((EXPAND, QUESTIONS)) == 2  # the tree still grows
    worker.finished(7, "done", EXPAND, made=3, short=0)
    worker.finished(9, "failed", QUESTIONS, made=2, short=1)
    worker.finished(7, "done")
    worker.flush()
    with store.session() as session:
        assert worker.tally(session) == {"done": 1}
        assert worker.tally(session, QUESTIONS) == {"failed": 1}
        assert worker.rows(session, EXPAND) == (3, 0)
        assert worker.rows(session, QUESTIONS) == (2, 1)
    # A run that resumes the job plans again: the finished items leave, the open one stays
    # (held by its worker), the failed top-up comes back.
    worker.plan([(QUESTIONS, 9), (ANSWER, 8)])
    with store.session() as session:
        assert worker.tally(session, QUESTIONS) == {}
    assert worker.claim(5) == [(QUESTIONS, 9)]
    with pytest.raises(ValueError, match="stage"):
        worker.add([1], "tags")


def test_a_claim_reads_the_free_items_in_claim_order_not_the_whole_job(
    store: Store, task_id: int
) -> None:
    # A plan this large updates the statistics, so the planner knows the table's size.
    worker = SharedItems(store, task_id, "host:1:w", LEASE_SECONDS)
    worker.plan([(ANSWER, target) for target in range(1, 5001)])
    statement = worker.claim_statement(64).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    with store.engine.connect() as connection:
        plan = "\n".join(row[0] for row in connection.execute(text(f"EXPLAIN {statement}")))
    assert "ix_work_items_free" in plan  # the unfinished items, in claim order
    assert "Sort" not in plan and "Seq Scan" not in plan, plan
    assert worker.claim(3) == [(ANSWER, 1), (ANSWER, 2), (ANSWER, 3)]
