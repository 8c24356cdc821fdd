"""The call log's group commits, on the SQLite fast path and the generic SQLAlchemy path."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from distillset.llm.calls import LOOKUPS_PER_BATCH, CallLog, _Applied, _Batch, _Lane
from distillset.store import LlmCall, Store


def _row(key: str, *, ok: bool = True, task_id: int | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "project_id": None,
        "task_id": task_id,
        "endpoint_alias": "fake",
        "purpose": "test",
        "request_key": key,
        "status": "ok" if ok else "error",
        "http_status": 200 if ok else 500,
        "error": None if ok else "HTTP 500: boom",
        "request_body": "{}",
        "response_body": f'{{"reply": "{key}"}}',
        "latency_ms": 1.5,
        "attempts": 1,
    }
    if ok:  # a failed call carries no usage columns at all
        row.update(input_tokens=3, output_tokens=5, reasoning_tokens=None, cost=None)
    return row


@pytest.fixture(params=[True, False], ids=["sqlite-fast-path", "sqlalchemy-core"])
def fast_path(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_a_mixed_batch_commits_every_row_with_its_own_id(store: Store, fast_path: bool) -> None:
    async def scenario() -> list[int]:
        log = CallLog(store, fast_path=fast_path)
        try:
            rows = [_row(f"k{i}", ok=i % 3 != 0) for i in range(30)]
            return await asyncio.gather(*(log.record(row) for row in rows))
        finally:
            log.close()

    ids = asyncio.run(scenario())
    assert len(set(ids)) == 30
    with store.session() as session:
        stored = {row.id: row for row in session.scalars(select(LlmCall))}
    for i, call_id in enumerate(ids):
        row = stored[call_id]
        assert row.request_key == f"k{i}"
        assert row.status == ("ok" if i % 3 else "error")
        assert isinstance(row.created_at, datetime)


def test_one_bad_row_fails_alone(store: Store, fast_path: bool) -> None:
    async def scenario() -> list[int | BaseException]:
        log = CallLog(store, fast_path=fast_path)
        try:
            rows = [_row("good1"), _row("bad", task_id=987654), _row("good2")]
            return await asyncio.gather(*(log.record(r) for r in rows), return_exceptions=True)
        finally:
            log.close()

    first, bad, last = asyncio.run(scenario())
    assert isinstance(first, int) and isinstance(last, int)
    assert isinstance(bad, Exception) and "FOREIGN KEY" in str(bad)
    with store.session() as session:
        keys = sorted(session.scalars(select(LlmCall.request_key)))
    assert keys == ["good1", "good2"]


def test_lookups_find_only_successes_and_updates_apply(store: Store, fast_path: bool) -> None:
    async def scenario() -> None:
        log = CallLog(store, fast_path=fast_path)
        try:
            ok_id = await log.record(_row("same"))
            await log.record(_row("failed", ok=False))
            found, missing, failed = await asyncio.gather(
                log.find_success("same"), log.find_success("nope"), log.find_success("failed")
            )
            assert found is not None and found.id == ok_id and '"same"' in found.response_body
            assert missing is None and failed is None
            await log.update(ok_id, {"status": "invalid", "error": "no list"})
            assert await log.find_success("same") is None
        finally:
            log.close()

    asyncio.run(scenario())


def test_many_look_ups_at_once_are_answered_in_turns_each_with_its_own_row(
    store: Store, fast_path: bool
) -> None:
    count = LOOKUPS_PER_BATCH * 3 + 5

    async def scenario() -> None:
        log = CallLog(store, fast_path=fast_path)
        try:
            ids = await asyncio.gather(*(log.record(_row(f"k{i}")) for i in range(0, count, 2)))
            found = await asyncio.gather(*(log.find_success(f"k{i}") for i in range(count)))
            assert [stored.id for stored in found if stored is not None] == ids
            assert all((stored is None) == (i % 2 == 1) for i, stored in enumerate(found))
        finally:
            log.close()

    asyncio.run(scenario())


def test_a_lane_split_by_its_read_limit_keeps_the_writes_queued_with_them() -> None:
    applied: list[tuple[int, int]] = []

    def apply(batch: _Batch) -> _Applied:
        applied.append((len(batch.reads), len(batch.writes)))
        ids: list[int | None] = list(range(1, len(batch.writes) + 1))
        return {}, ids, [None] * len(batch.writes)

    async def scenario() -> None:
        with ThreadPoolExecutor(max_workers=1) as executor:
            lane = _Lane(apply, executor, owned=False, max_reads=2)
            loop = asyncio.get_running_loop()
            reads = [loop.create_future() for _ in range(5)]
            write = loop.create_future()
            lane.batch.reads.extend((f"k{i}", future) for i, future in enumerate(reads))
            lane.batch.writes.append((_row("w"), write))
            lane.kick()
            assert await asyncio.wait_for(write, 5) == 1
            assert await asyncio.wait_for(asyncio.gather(*reads), 5) == [None] * 5

    asyncio.run(scenario())
    assert sum(reads for reads, _ in applied) == 5 and sum(w for _, w in applied) == 1
    assert max(reads for reads, _ in applied) == 2
