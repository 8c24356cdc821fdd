"""Whether the target of a request still exists, checked right before the request is sent.

A user may delete a tag, a question or the whole project while a run is under way (from
another process too). Work for it must not be paid for: the gateway awaits a check just
before each attempt goes out, with its limiter slot held, and the check raises
``TargetGone`` when the row is no longer there. Checks queued meanwhile are answered by
one query per table on a thread of their own, so the event loop never waits on the store.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

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


def _existing(store: Store, wanted: dict[Kind, set[int]]) -> dict[Kind, set[int]]:
    found: dict[Kind, set[int]] = {}
    with store.engine.connect() as connection:
        for kind, ids in wanted.items():
            table, ordered = _TABLES[kind], sorted(ids)
            found[kind] = set()
            for start in range(0, len(ordered), CHUNK):
                chunk = ordered[start : start + CHUNK]
                rows = connection.execute(select(table.c.id).where(table.c.id.in_(chunk)))
                found[kind].update(rows.scalars())
    return found


def target_exists(store: Store, kind: Kind, row_id: int) -> bool:
    """One check, for a path that already left the event loop (a failed commit)."""
    return row_id in _existing(store, {kind: {row_id}})[kind]


class TargetCheck:
    """Batched existence checks for the rows a run's requests are for."""

    def __init__(self, store: Store) -> None:
        self._store = store
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
