"""What the facade's modules share: running a coroutine from any caller, opening the store,
and the state a `Project` carries."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from distillset import resolve
from distillset.config import Settings, load_settings
from distillset.store import Project as ProjectRow
from distillset.store import Store, open_store

T = TypeVar("T")
ProgressCallback = Callable[[dict[str, Any]], None]


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end, also when called from a running loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Called from a running loop (Jupyter): run on a fresh loop in a helper thread.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="distillset") as pool:
        return pool.submit(asyncio.run, coroutine).result()


@contextmanager
def opened(settings: Settings | None, store: Store | None) -> Iterator[tuple[Settings, Store]]:
    """The given store, or one opened from the settings (default: the environment's) and
    closed again on the way out."""
    settings = settings or load_settings()
    if store is not None:
        yield settings, store
        return
    own = open_store(settings)
    try:
        yield settings, own
    finally:
        own.close()


class ProjectBase:
    """The state every part of `Project` reads: its name, settings and store."""

    name: str
    settings: Settings
    store: Store

    @contextmanager
    def _session(self) -> Iterator[tuple[Session, ProjectRow]]:
        """A session (committed on success) and this project's row in it."""
        with self.store.session() as session:
            yield session, resolve.project_named(session, self.name)
