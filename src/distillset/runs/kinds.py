"""Task kinds, declared by the packages that run them and looked up by name.

As arq's ``Worker(functions=[...])`` or Celery's task registry: a kind says its name, the
stages its counters have (with the label an interface shows) and how to run or resume one of
its tasks. The runs package never imports a kind; the application builds the registry from
the top (``distillset.kinds``) and hands it to the runner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from distillset.config import Settings
from distillset.domain import InvalidInputError
from distillset.store import Store

if TYPE_CHECKING:
    from distillset.runs.runner import SupervisedRun

ProgressCallback = Callable[[dict[str, Any]], None]


class RunFactory(Protocol):
    """Builds one run of a task of the kind (``SupervisedRun.run()`` then runs it)."""

    def __call__(
        self,
        store: Store,
        settings: Settings,
        task_id: int,
        *,
        cancel_event: asyncio.Event | None = None,
        on_progress: ProgressCallback | None = None,
        use_cache: bool = True,
    ) -> SupervisedRun: ...


class SharedRun(Protocol):
    """A worker's part in a job another worker runs (see ``runs.shared``)."""

    async def run(self) -> int:
        """Work on the job's items until none is left to claim; returns how many."""
        ...


class JoinFactory(Protocol):
    """How a worker joins a running task of the kind, to share its work."""

    def __call__(
        self,
        store: Store,
        settings: Settings,
        task_id: int,
        *,
        cancel_event: asyncio.Event | None = None,
    ) -> SharedRun: ...


@dataclass(frozen=True)
class Stage:
    """One counter of a kind's tasks: its key in the counters, and how it is shown."""

    name: str
    label: str
    # Shown only once it has work (a distillation's conversation turns: most jobs have none).
    optional: bool = False

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "label": self.label}
        if self.optional:
            data["optional"] = True
        return data


@dataclass(frozen=True)
class TaskKindSpec:
    """What the runner needs to know of a kind."""

    name: str
    stages: tuple[Stage, ...]
    run: RunFactory
    # Where several workers can share one task of the kind (PostgreSQL): how one joins.
    join: JoinFactory | None = None

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self.stages)


class KindRegistry:
    """The kinds an application runs, by name."""

    def __init__(self, kinds: Iterable[TaskKindSpec] = ()) -> None:
        self._kinds: dict[str, TaskKindSpec] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: TaskKindSpec) -> None:
        if kind.name in self._kinds:
            raise ValueError(f"task kind {kind.name!r} is declared twice")
        self._kinds[kind.name] = kind

    def get(self, name: str) -> TaskKindSpec:
        try:
            return self._kinds[name]
        except KeyError:
            raise InvalidInputError(
                f"no runner for {name!r} tasks (known kinds: {', '.join(sorted(self._kinds))})"
            ) from None

    def stages(self, name: str) -> tuple[Stage, ...]:
        """The stages of a kind; none for a kind this application does not know."""
        kind = self._kinds.get(name)
        return kind.stages if kind is not None else ()

    def names(self) -> list[str]:
        return sorted(self._kinds)
