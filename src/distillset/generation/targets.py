"""Whether the target of a request still exists, checked right before the request is sent.

A user may delete a tag, a question or the whole project while a run is under way (from
another process too). Work for it must not be paid for: the gateway awaits a check just
before each attempt goes out, with its limiter slot held, and the check raises
``TargetGone`` when the row is no longer there. Checks queued meanwhile are answered by
one query per table.

On PostgreSQL that query runs on a thread of its own, so the event loop never waits on a
round trip. SQLite is a local file: a lookup by key takes microseconds, so it runs on the
loop itself, on a connection of its own. A hop to a thread and back cost several
milliseconds on a busy loop, and every request held its slot, idle, for that long.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from sqlalchemy import Table, select

from distillset.domain import NotFoundError
from distillset.store import Store
from distillset.store.models import Project, Question, Tag

Kind = Literal["project", "tag", "question"]
_TABLES: dict[Kind, Table] = {
    "project": Project.__table__,  # type: ignore[dict-item]
    "tag": Tag.__table__,  # type: ignore[dict-item]
    "question": Question.__table__,  # type: ignore[dict-item]
}
CHUNK = 500


class TargetGone(NotFoundError):
    """The tag, question or project a piece of work was for has been deleted."""

    def __init__(self, kind: Kind, row_id: int) -> None:
        super().__init__(f"{kind} {row_id} was deleted; its work was skipped")
        self.kind = kind
        self.row_id = row_id


def _found(
    ids_among: Callable[[Table, list[int]], Iterable[int]], wanted: dict[Kind, set[int]]
) -> dict[Kind, set[int]]:
    """Which of the wanted rows exist, asked ``ids_among(table, ids)`` a chunk at a time."""
    found: dict[Kind, set[int]] = {}
    for kind, ids in wanted.items():
        table, ordered = _TABLES[kind], sorted(ids)
        found[kind] = set()
        for start in range(0, len(ordered), CHUNK):
            found[kind].update(ids_among(table, ordered[start : start + CHUNK]))
    return found


def _existing(store: Store, wanted: dict[Kind, set[int]]) -> dict[Kind, set[int]]:
    with store.engine.connect() as connection:
        return _found(
            lambda table, chunk: connection.execute(
                select(table.c.id).where(table.c.id.in_(chunk))
            ).scalars(),
            wanted,
        )


def target_exists(store: Store, kind: Kind, row_id: int) -> bool:
    """One check, for a path that already left the event loop (a failed commit)."""
    return row_id in _existing(store, {kind: {row_id}})[kind]


class _LocalLookup:
    """Existence checks on a SQLite connection of their own, made on the event loop."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._connection: Any = None  # opened on first use, in the loop's thread

    def __call__(self, wanted: dict[Kind, set[int]]) -> dict[Kind, set[int]]:
        if self._connection is None:
            self._connection = self._store.engine.raw_connection()
        cursor = self._connection.cursor()

        def ids_among(table: Table, chunk: list[int]) -> list[int]:
            marks = ", ".join("?" * len(chunk))
            cursor.execute(f"SELECT id FROM {table.name} WHERE id IN ({marks})", chunk)
            return [row[0] for row in cursor.fetchall()]

        try:
            return _found(ids_among, wanted)
        finally:
            cursor.close()
            # No read transaction left open: it would pin an old snapshot of the file.
            self._connection.rollback()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()  # back to the engine's pool
            self._connection = None


class TargetCheck:
    """Batched existence checks for the rows a run's requests are for."""

    def __init__(self, store: Store) -> None:
        self._store = store
        url = store.engine.url
        # (An in-memory database has one connection per thread, shared: not one of its own.)
        local = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        self._local = _LocalLookup(store) if local else None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="distill-targets")
        self._queued: list[tuple[Kind, int, asyncio.Future[bool]]] = []
        self._worker: asyncio.Task[None] | None = None

    def before_send(self, kind: Kind, row_id: int) -> Callable[[], Awaitable[None]]:
        """The hook to hand the gateway: it raises TargetGone when the row is gone."""

        async def check() -> None:
            if not await self.exists(kind, row_id):
                raise TargetGone(kind, row_id)

        return check

    def exists(self, kind: Kind, row_id: int) -> asyncio.Future[bool]:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queued.append((kind, row_id, future))
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())
        return future

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                wanted: dict[Kind, set[int]] = defaultdict(set)
                for kind, row_id, _future in batch:
                    wanted[kind].add(row_id)
                try:
                    if self._local is not None:
                        found = self._local(dict(wanted))
                    else:
                        found = await loop.run_in_executor(
                            self._executor, _existing, self._store, dict(wanted)
                        )
                except Exception as exc:  # the database failed: every caller hears it
                    for _kind, _row_id, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for kind, row_id, future in batch:
                    if not future.done():
                        future.set_result(row_id in found[kind])
        finally:
            self._worker = None

    def close(self) -> None:
        self._executor.shutdown(wait=False)
        if self._local is not None:
            self._local.close()
