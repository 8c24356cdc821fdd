"""One writer thread per database for the writes on a run's hot path.

Commits made on the event loop stall every request in flight: while a batch of answers
is written, finished calls cannot hand their slot on. SQLite also takes one writer at a
time, so two threads of this process writing at once make one of them sleep in SQLite's
busy handler. One shared thread per engine keeps commits off the loop and turns that
contention into a plain queue. The caller still gets its result only after the commit.

The queue has a fast lane: the call log's rows, which make a model's reply durable, go
before the answers and items built from earlier replies (those replies are durable
already). A reply then waits for at most the write in progress before it is committed, so
a kill loses only the replies that arrived during that last commit.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")

_Job = tuple[Future[Any], Callable[[], Any]]


class _Queues:
    """What the writer thread serves: the fast lane first, then the rest, in order."""

    def __init__(self) -> None:
        self.ready = threading.Condition()
        self.first: deque[_Job] = deque()
        self.rest: deque[_Job] = deque()
        self.closed = False

    def put(self, lane: deque[_Job], job: _Job) -> None:
        with self.ready:
            if self.closed:
                raise RuntimeError("the store writer is shut down")
            lane.append(job)
            self.ready.notify()

    def take(self) -> _Job | None:
        with self.ready:
            while not (self.first or self.rest or self.closed):
                self.ready.wait()
            if self.first:
                return self.first.popleft()
            if self.rest:
                return self.rest.popleft()
            return None  # closed and drained

    def close(self) -> None:
        with self.ready:
            self.closed = True
            self.ready.notify_all()


def _serve(queues: _Queues) -> None:
    # The thread holds the queues only, never the writer: a writer nobody uses is
    # collected, which closes its queues and so ends this loop.
    while (job := queues.take()) is not None:
        future, call = job
        if not future.set_running_or_notify_cancel():
            continue
        try:
            result = call()
        except BaseException as exc:  # handed to the waiting caller
            future.set_exception(exc)
        else:
            future.set_result(result)


class StoreWriter(Executor):
    """A single writer thread whose ``submit_first`` jobs overtake the queued others."""

    def __init__(self) -> None:
        self._queues = _Queues()
        self._thread = threading.Thread(
            target=_serve, args=(self._queues,), name="store-writer", daemon=True
        )
        self._thread.start()
        weakref.finalize(self, _Queues.close, self._queues)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self._put(self._queues.rest, functools.partial(fn, *args, **kwargs))

    def submit_first(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self._put(self._queues.first, functools.partial(fn, *args, **kwargs))

    def _put(self, lane: deque[_Job], call: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._queues.put(lane, (future, call))
        return future

    def queued(self) -> int:
        """How many writes wait for the thread (the one in progress not counted)."""
        with self._queues.ready:
            return len(self._queues.first) + len(self._queues.rest)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._queues.close()
        if wait:
            self._thread.join()

    def fast_lane(self) -> Executor:
        """An executor view whose jobs take the fast lane (for the call log's rows)."""
        return _FastLane(self)


class _FastLane(Executor):
    def __init__(self, writer: StoreWriter) -> None:
        self._writer = writer

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self._writer.submit_first(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """The writer is the engine's, shared: a view does not stop it."""


_writers: weakref.WeakKeyDictionary[Engine, StoreWriter] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def store_writer(engine: Engine) -> StoreWriter:
    """The engine's writer thread, created on first use and gone with the engine."""
    with _writers_lock:
        writer = _writers.get(engine)
        if writer is None:
            writer = StoreWriter()
            _writers[engine] = writer
        return writer


# PostgreSQL's answer to two transactions that wait on each other (deadlock_detected) or
# that cannot both stand (serialization_failure): one is rolled back, and running it again
# is the documented remedy. Writers of several processes sharing a job can meet this.
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
TRANSIENT_RETRIES = 3


def is_transient(exc: BaseException) -> bool:
    """Whether the database rolled this transaction back only because of another one."""
    return isinstance(exc, DBAPIError) and (
        getattr(exc.orig, "sqlstate", None) in _TRANSIENT_SQLSTATES
    )


def _retrying(write: Callable[..., T], *args: object) -> T:
    """``write(*args)``, run again when the database rolled it back for another
    transaction's sake (each write is one transaction of its own, so nothing of the failed
    try stays)."""
    for attempt in range(TRANSIENT_RETRIES + 1):
        try:
            return write(*args)
        except DBAPIError as exc:
            if attempt == TRANSIENT_RETRIES or not is_transient(exc):
                raise
    raise AssertionError("unreachable")


async def run_write(engine: Engine, write: Callable[..., T], *args: object) -> T:
    """Run ``write(*args)`` on the engine's writer thread and return its result; a write
    that PostgreSQL rolled back for another transaction (a deadlock) is run again.

    A caller cancelled meanwhile still waits for the write to end before it goes, so
    nothing is committed behind the back of code that believes the run has stopped.
    """
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(store_writer(engine), functools.partial(_retrying, write, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


# How long a group commit waits for the writes arriving around the first one.
BATCH_WINDOW_SECONDS = 0.002
W = TypeVar("W")


class GroupCommit(Generic[W, T]):
    """Writes that arrive together are committed by one ``commit(writes)`` call on the
    engine's writer thread, so the event loop keeps handing out slots meanwhile, and writes
    that arrive during a commit join the next batch. ``commit`` returns one result per
    write, in order; an exception in that list fails that write alone. Each caller returns
    only after its write is committed; ``drain`` waits for the batches of callers that
    were cancelled meanwhile."""

    def __init__(
        self, engine: Engine, commit: Callable[[list[W]], Sequence[T | BaseException]]
    ) -> None:
        self._engine, self._commit = engine, commit
        self._batch: list[tuple[W, asyncio.Future[T]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def write(self, write: W) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._batch.append((write, future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(BATCH_WINDOW_SECONDS)
            while self._batch:
                batch, self._batch = self._batch, []
                try:
                    results = await self._run([w for w, _f in batch])
                except Exception as exc:
                    results = [exc] * len(batch)
                for (_write, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._flushing = None

    async def _run(self, writes: list[W]) -> Sequence[T | BaseException]:
        return await run_write(self._engine, self._commit, writes)

    async def drain(self) -> None:
        """Wait until every write handed over is committed (or has failed)."""
        while self._flushing is not None:
            await asyncio.wait([self._flushing])


class GroupRead(GroupCommit[W, T]):
    """Reads that arrive together are made by one ``read(keys)`` call (``write`` hands over
    a key and returns its result), on a thread of their own: a read on the event loop
    stalls every request in flight, and one need not wait its turn among the writes."""

    async def read(self, key: W) -> T:
        return await self.write(key)

    async def _run(self, writes: list[W]) -> Sequence[T | BaseException]:
        return await asyncio.to_thread(self._commit, writes)
