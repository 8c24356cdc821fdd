"""Request slots across processes: what a run may have out, and what its successor keeps free.

A run writes in its task row (``open_requests``) an upper bound of the requests it has out,
before it sends more than it last wrote. A process that was stopped (SIGSTOP, Ctrl-Z, a
frozen machine) and taken over still has those requests open at the model server, and
nothing it can do about them until it runs again. So a run that starts while another
process's run of the project may still be alive keeps that many of the project's slots free:
on this host until that process ends (it stops itself as soon as it is continued); on another
host, which it cannot check, until a live client would have given up on the requests (its last
heartbeat, plus the lease within which it could still send, plus the request timeout).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.domain import TaskStatus
from distillset.runs.rows import owner_is_gone, process_owner
from distillset.store import Task, utcnow
from distillset.store.models import as_utc

# A run writes its bound this many requests ahead, so that a burst costs one write, not one
# per request.
PUBLISH_AHEAD = 4
# How often a successor looks whether the processes it keeps slots for have ended.
CHECK_INTERVAL = 0.5


class SlotPool(Protocol):
    """The project's concurrency limiter, as this module uses it."""

    max_concurrency: int

    @property
    def in_flight(self) -> int: ...

    def reserve(self, count: int) -> int: ...

    def unreserve(self, count: int) -> None: ...


@dataclass(frozen=True)
class OpenElsewhere:
    """Requests another process's run said it might have out, as of its last heartbeat."""

    owner: str
    requests: int
    heartbeat_at: datetime | None

    @property
    def on_this_host(self) -> bool:
        return self.owner.split(":")[0] == socket.gethostname()


def open_elsewhere(session: Session, project_id: int) -> list[OpenElsewhere]:
    """Running tasks of the project whose run, in another process that may still be alive,
    may have requests out. (Runs of this process share its limiter already.)"""
    here = f"{process_owner()}:"
    rows = session.execute(
        select(Task.owner, Task.open_requests, Task.heartbeat_at).where(
            Task.project_id == project_id,
            Task.status == TaskStatus.RUNNING.value,
            Task.open_requests > 0,
        )
    )
    return [
        OpenElsewhere(owner, requests or 0, as_utc(beat))
        for owner, requests, beat in rows
        if owner and not owner.startswith(here) and not owner_is_gone(owner)
    ]


class SlotsHeld:
    """Slots of ``pool`` kept free for the requests of runs in other processes, each given
    back when its process is known gone or, off this host, after ``give_up_after`` seconds
    from its last heartbeat."""

    def __init__(
        self,
        pool: SlotPool,
        others: list[OpenElsewhere],
        give_up_after: float,
        say: Callable[[str], None],
    ) -> None:
        self.pool = pool
        self.give_up_after = give_up_after
        self._held: dict[str, int] = {}
        self._others = {other.owner: other for other in others}
        for other in others:
            taken = pool.reserve(other.requests)
            if taken:
                self._held[other.owner] = taken
                where = "" if other.on_this_host else " on another host"
                say(
                    f"keeping {taken} request slots free for process {other.owner}{where}, "
                    "whose run may still have requests open (was it stopped?); they free up "
                    "when it ends" + ("" if other.on_this_host else " or gives up")
                )

    @property
    def held(self) -> int:
        return sum(self._held.values())

    def release_ended(self) -> None:
        """Give back the slots of processes that ended, or whose requests have run out."""
        now = utcnow()
        for owner, taken in list(self._held.items()):
            other = self._others[owner]
            beat = other.heartbeat_at
            expired = (
                not other.on_this_host
                and beat is not None
                and (now - beat).total_seconds() > self.give_up_after
            )
            if owner_is_gone(owner) or expired:
                del self._held[owner]
                self.pool.unreserve(taken)

    def release_all(self) -> None:
        for taken in self._held.values():
            self.pool.unreserve(taken)
        self._held.clear()
