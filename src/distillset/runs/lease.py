"""A run's lease on its task: it may send a request only while its ownership is fresh.

Another process takes a task over once its heartbeat is older than the stale limit. A run
that was stopped (SIGSTOP, Ctrl-Z, a frozen VM) still believes it owns the task when it
wakes up, so before each request it checks how long ago the database last confirmed its
ownership (a heartbeat written with a compare-and-set on the owner). The lease is clearly
shorter than the stale limit: while it holds, no other process can have taken the task over.
Once it has expired, the request waits for the next heartbeat; if that heartbeat finds the
task taken over, the run is stopped and the request is never sent. The monotonic clock
advances while a process is stopped, so a pause always expires the lease.
"""

from __future__ import annotations

import asyncio
import time

# The lease is this fraction of the heartbeat's stale limit.
LEASE_FRACTION = 0.5


class OwnershipLease:
    """How long ago the run's ownership was confirmed, and a wait for the next confirmation."""

    def __init__(self, stale_seconds: float) -> None:
        self.seconds = stale_seconds * LEASE_FRACTION
        self._confirmed_at: float | None = None
        self._renewed: asyncio.Future[None] | None = None

    def confirm(self, at: float) -> None:
        """Ownership was confirmed in the database by a write that started at ``at``
        (a monotonic time read before the write, so the lease never outlives the beat)."""
        self._confirmed_at = at
        if self._renewed is not None and not self._renewed.done():
            self._renewed.set_result(None)
        self._renewed = None

    def holds(self) -> bool:
        confirmed = self._confirmed_at
        return confirmed is not None and time.monotonic() - confirmed < self.seconds

    async def wait_until_held(self) -> None:
        """Return at once while the lease holds; otherwise wait for the heartbeat to renew
        it. A run that lost its task is cancelled meanwhile, so this never returns then."""
        while not self.holds():
            if self._renewed is None:
                self._renewed = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._renewed)
