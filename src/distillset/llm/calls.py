"""The LlmCall table as usage log and response cache, written with group commits.

Concurrent requests queue their cache look-ups and inserts here; a worker thread per
lane (look-ups; writes, on the database's shared writer thread) applies everything
queued meanwhile in one transaction, then wakes every caller. A caller's row is
therefore committed before it gets its id back, yet many calls share one commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.exc import DBAPIError

from distillset.llm import calls_sqlite
from distillset.llm.call_rows import StoredCall
from distillset.llm.writer import store_writer
from distillset.store.db import Store
from distillset.store.models import LlmCall

LOOKUPS_PER_BATCH = 64


@dataclass
class _Batch:
    reads: list[tuple[str, asyncio.Future[StoredCall | None]]]
    writes: list[tuple[dict[str, Any], asyncio.Future[int]]]
    updates: list[tuple[int, dict[str, Any], asyncio.Future[None]]]


# What a batch gives back: found rows by key, new ids, and each insert's error.
_Applied = tuple[dict[str, StoredCall], list[int | None], list[BaseException | None]]

_TABLE: Table = LlmCall.__table__  # type: ignore[assignment]
_SELECT_OK = select(_TABLE.c.request_key, _TABLE.c.id, _TABLE.c.response_body, _TABLE.c.latency_ms)
_INSERT = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)


def _read(connection: Connection, keys: list[str]) -> dict[str, StoredCall]:
    found: dict[str, StoredCall] = {}
    for start in range(0, len(keys), 500):
        rows = connection.execute(
            _SELECT_OK.where(
                _TABLE.c.request_key.in_(keys[start : start + 500]), _TABLE.c.status == "ok"
            ).order_by(_TABLE.c.id)
        )
        for key, call_id, body, latency in rows:
            if body is not None:
                found[key] = StoredCall(call_id, body, latency)
    return found


def _insert(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    # A many-row insert needs the same columns in every row; a failed call has no usage.
    columns = set().union(*rows)
    rows = [{column: row.get(column) for column in columns} for row in rows]
    return [int(row_id) for row_id in connection.execute(_INSERT, rows).scalars()]


class _Lane:
    """One worker thread applying whatever was queued meanwhile as one batch."""

    def __init__(
        self,
        apply: Callable[[_Batch], _Applied],
        executor: Executor,
        *,
        owned: bool,
        max_reads: int | None = None,
    ) -> None:
        self.batch = _Batch([], [], [])
        self._apply = apply
        self._max_reads = max_reads
        self._worker: asyncio.Task[None] | None = None
        self._executor = executor
        self._owned = owned

    def kick(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def drain(self) -> None:
        while self._worker is not None:
            await asyncio.shield(self._worker)

    def close(self) -> None:
        if self._owned:
            self._executor.shutdown(wait=True)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.batch.reads or self.batch.writes or self.batch.updates:
                batch = self._take()
                try:
                    found, ids, errors = await loop.run_in_executor(
                        self._executor, self._apply, batch
                    )
                except Exception as exc:  # the database itself failed: tell every caller
                    _fail_all(batch, exc)
                    continue
                _resolve(batch, found, ids, errors)
        finally:
            self._worker = None

    def _take(self) -> _Batch:
        """What is queued, or, past max_reads look-ups, the oldest of them: their callers
        go on while the rest are read."""
        queued = self.batch
        if self._max_reads is not None and len(queued.reads) > self._max_reads:
            # Writes queued here too wait for the next turn, after the remaining reads.
            self.batch = _Batch(queued.reads[self._max_reads :], queued.writes, queued.updates)
            return _Batch(queued.reads[: self._max_reads], [], [])
        self.batch = _Batch([], [], [])
        return queued


class CallRecorder(Protocol):
    """What the gateway needs of a call log; ``CallLog`` writes the LlmCall table, a unit
    test may keep rows in memory. Gateways whose logs share a ``scope`` share requests
    in flight (one is sent, the others take its reply)."""

    scope: str

    def find_success(self, request_key: str) -> Awaitable[StoredCall | None]: ...

    def record(self, values: dict[str, Any]) -> Awaitable[int]: ...

    def update(self, call_id: int, values: dict[str, Any]) -> Awaitable[None]: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


class CallLog:
    def __init__(self, store: Store, *, fast_path: bool | None = None) -> None:
        self._store = store
        self.scope = str(store.engine.url)
        if fast_path is None:
            fast_path = calls_sqlite.is_fast_path_engine(store.engine)
        self._fast_path = fast_path
        # Look-ups have their own lane so they never wait behind a commit. Writes share
        # the database's writer thread with the answers and questions of a run, in its
        # fast lane: a row makes a reply durable, so it goes before writes built from
        # replies that are durable already.
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-cache")
        # Thousands of requests starting at once would otherwise all wait for one long read.
        self._reads = _Lane(self._apply, reader, owned=True, max_reads=LOOKUPS_PER_BATCH)
        writer = store_writer(store.engine).fast_lane()
        self._writes = _Lane(self._apply, writer, owned=False)

    # These hand back the future itself, not a coroutine awaiting it: one object less
    # for each of the thousands of requests that may wait at once.

    def find_success(self, request_key: str) -> asyncio.Future[StoredCall | None]:
        """The latest successful row for a request key, or None."""
        future: asyncio.Future[StoredCall | None] = asyncio.get_running_loop().create_future()
        self._reads.batch.reads.append((request_key, future))
        self._reads.kick()
        return future

    def record(self, values: dict[str, Any]) -> asyncio.Future[int]:
        """Insert one LlmCall row; its id comes once the row is committed."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._writes.batch.writes.append((values, future))
        self._writes.kick()
        return future

    def update(self, call_id: int, values: dict[str, Any]) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writes.batch.updates.append((call_id, values, future))
        self._writes.kick()
        return future

    async def drain(self) -> None:
        await self._reads.drain()
        await self._writes.drain()

    def close(self) -> None:
        self._reads.close()
        self._writes.close()

    def _apply(self, batch: _Batch) -> _Applied:
        engine = self._store.engine
        keys = [key for key, _ in batch.reads]
        rows = [values for values, _ in batch.writes]
        if self._fast_path:
            updates = [(call_id, values) for call_id, values, _ in batch.updates]
            return calls_sqlite.apply_batch(engine, keys, rows, updates)
        try:
            # Core, not the ORM: this runs for every model call and must stay cheap.
            with engine.begin() as connection:
                found = _read(connection, keys) if keys else {}
                self._apply_updates(connection, batch)
                ids: list[int | None] = list(_insert(connection, rows)) if rows else []
            return found, ids, [None] * len(rows)
        except DBAPIError:
            if not rows:
                raise
        # One bad row (a vanished task id...) must not fail its neighbours.
        with engine.begin() as connection:
            found = _read(connection, keys) if keys else {}
            self._apply_updates(connection, batch)
        ids = []
        errors: list[BaseException | None] = []
        for row in rows:
            try:
                with engine.begin() as connection:
                    ids.append(_insert(connection, [row])[0])
                errors.append(None)
            except DBAPIError as exc:
                ids.append(None)
                errors.append(exc)
        return found, ids, errors

    @staticmethod
    def _apply_updates(connection: Connection, batch: _Batch) -> None:
        for call_id, values, _ in batch.updates:
            connection.execute(update(_TABLE).where(_TABLE.c.id == call_id).values(**values))


def _resolve(
    batch: _Batch,
    found: dict[str, StoredCall],
    ids: list[int | None],
    errors: list[BaseException | None],
) -> None:
    for key, read_future in batch.reads:
        if not read_future.done():
            read_future.set_result(found.get(key))
    for (_, write_future), call_id, error in zip(batch.writes, ids, errors, strict=True):
        if write_future.done():
            continue
        if error is not None or call_id is None:
            write_future.set_exception(error or RuntimeError("LlmCall insert returned no id"))
        else:
            write_future.set_result(call_id)
    for _, _, update_future in batch.updates:
        if not update_future.done():
            update_future.set_result(None)


def _fail_all(batch: _Batch, exc: Exception) -> None:
    futures: list[asyncio.Future[Any]] = [f for _, f in batch.reads]
    futures += [f for _, f in batch.writes] + [f for _, _, f in batch.updates]
    for future in futures:
        if not future.done():
            future.set_exception(exc)
