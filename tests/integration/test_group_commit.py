"""Group commit (llm.writer.GroupCommit) and the top-up steps' use of it (ItemWriter): writes
handed over together are committed in one call on the writer thread, each caller gets its
own result, and one step's clash fails that step alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from distillset.generation.targets import Kind, TargetGone
from distillset.generation.topup import ItemWriter, _Items
from distillset.llm.writer import TRANSIENT_RETRIES, GroupCommit, run_write
from distillset.store import Store


def test_writes_handed_over_together_are_committed_in_one_call(store: Store) -> None:
    batches: list[list[int]] = []

    def commit(writes: list[int]) -> list[int | BaseException]:
        batches.append(writes)
        return [ValueError(f"no {w}") if w == 3 else w * 10 for w in writes]

    async def main() -> list[int | BaseException]:
        group: GroupCommit[int, int] = GroupCommit(store.engine, commit)
        results = await asyncio.gather(*(group.write(w) for w in range(5)), return_exceptions=True)
        await group.drain()
        return results

    results = asyncio.run(main())

    assert batches == [[0, 1, 2, 3, 4]]
    assert results[:3] == [0, 10, 20] and results[4] == 40
    assert isinstance(results[3], ValueError) and str(results[3]) == "no 3"


@dataclass
class _Step:
    """A list step that stores nothing (it notes its inserts); ``clash`` makes its insert
    fail as a concurrent writer's would (its tag is then looked up, and is gone)."""

    tag_id: int
    clash: bool = False
    purpose: str = "questions"
    inserted: list[list[str]] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)

    def target(self) -> tuple[Kind, int]:
        return "tag", self.tag_id

    def existing(self, connection: Connection) -> list[str]:
        self.connections.append(id(connection))
        return []

    def messages(self, existing: Sequence[str], need: int) -> list[dict[str, str]]:
        return []

    def choose(
        self, connection: Connection, candidates: Sequence[str], existing: Sequence[str], need: int
    ) -> list[str]:
        return [c for c in candidates if c not in existing][:need]

    def insert(self, connection: Connection, items: Sequence[str]) -> list[int]:
        if self.clash:
            raise IntegrityError("INSERT", {}, Exception("FOREIGN KEY constraint failed"))
        self.inserted.append(list(items))
        return [100 * self.tag_id + n for n in range(len(items))]


def test_the_items_of_several_steps_share_one_transaction(store: Store) -> None:
    first, second = _Step(1), _Step(2)

    async def main() -> list[list[tuple[int, str]]]:
        writer = ItemWriter(store)
        return list(
            await asyncio.gather(
                writer.write(_Items(first, ["a", "b", "c"], 2)),
                writer.write(_Items(second, ["d"], 4)),
            )
        )

    assert asyncio.run(main()) == [[(100, "a"), (101, "b")], [(200, "d")]]
    assert first.connections == second.connections  # one connection, one transaction


def test_a_clash_fails_only_its_own_step(store: Store) -> None:
    kept, gone = _Step(1), _Step(999_999, clash=True)

    async def main() -> list[object]:
        writer = ItemWriter(store)
        return list(
            await asyncio.gather(
                writer.write(_Items(kept, ["a"], 1)),
                writer.write(_Items(gone, ["b"], 1)),
                return_exceptions=True,
            )
        )

    stored, failed = asyncio.run(main())

    assert stored == [(100, "a")]
    assert isinstance(failed, TargetGone) and failed.row_id == 999_999
    # The batch's transaction was rolled back, then the kept step stored on its own.
    assert kept.inserted == [["a"], ["a"]]
    assert gone.inserted == []


class _Deadlock(Exception):
    """What psycopg raises when PostgreSQL rolled a transaction back for a deadlock."""

    sqlstate = "40P01"


class _Duplicate(Exception):
    sqlstate = "23505"  # unique_violation: not the other transaction's fault


def test_a_write_rolled_back_for_a_deadlock_runs_again(store: Store) -> None:
    tries: list[int] = []

    def write(value: int) -> int:
        tries.append(value)
        if len(tries) < 3:
            raise DBAPIError("INSERT", {}, _Deadlock())
        return value * 2

    assert asyncio.run(run_write(store.engine, write, 21)) == 42
    assert tries == [21, 21, 21]


def test_a_write_that_keeps_failing_or_fails_otherwise_is_not_run_again_forever(
    store: Store,
) -> None:
    tries: list[str] = []

    def write(orig: Exception) -> None:
        tries.append(type(orig).__name__)
        raise DBAPIError("INSERT", {}, orig)

    with pytest.raises(DBAPIError):
        asyncio.run(run_write(store.engine, write, _Duplicate()))
    assert tries == ["_Duplicate"]
    tries.clear()
    with pytest.raises(DBAPIError):
        asyncio.run(run_write(store.engine, write, _Deadlock()))
    assert tries == ["_Deadlock"] * (TRANSIENT_RETRIES + 1)
