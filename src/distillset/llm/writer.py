"""One writer thread per database for the writes on a run's hot path.

Commits made on the event loop stall every request in flight: while a batch of answers
is written, finished calls cannot hand their slot on. SQLite also takes one writer at a
time, so two threads of this process writing at once make one of them sleep in SQLite's
busy handler. One shared thread per engine keeps commits off the loop and turns that
contention into a plain queue. The caller still gets its result only after the commit.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine

T = TypeVar("T")

_writers: weakref.WeakKeyDictionary[Engine, ThreadPoolExecutor] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def store_writer(engine: Engine) -> ThreadPoolExecutor:
    """The engine's writer thread, created on first use and gone with the engine."""
    with _writers_lock:
        writer = _writers.get(engine)
        if writer is None:
            writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
            _writers[engine] = writer
        return writer


async def run_write(engine: Engine, write: Callable[..., T], *args: object) -> T:
    """Run ``write(*args)`` on the engine's writer thread and return its result.

    A caller cancelled meanwhile still waits for the write to end before it goes, so
    nothing is committed behind the back of code that believes the run has stopped.
    """
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(store_writer(engine), functools.partial(write, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise
