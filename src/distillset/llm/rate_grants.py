"""Per-minute limits shared by several processes: a bucket kept elsewhere (the database),
drawn in small grants.

The shared bucket refills at the limit's rate up to one burst (``BURST_SECONDS`` of it), as a
process's own bucket does. A process takes a grant of about ``GRANT_SECONDS`` of the rate in
one short transaction, spends it on its requests, and draws again when it runs out: the
shared place is asked a few times a second, not once per request. What is left of a grant
lapses ``GRANT_SECONDS`` after it was drawn, so over any window a process sends at most one
grant more than the shared bucket gave out in it, and a dead process's grant simply lapses.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

# A worker draws this many seconds' worth of the rate at a time, and spends it within as long.
GRANT_SECONDS = 0.25


def draw_grant(
    level: float, elapsed: float, rate: float, capacity: float, need: float, want: float
) -> tuple[float, float, float]:
    """Draw from a bucket at ``level`` that refilled at ``rate`` per second for ``elapsed``
    seconds, up to ``capacity``: ``need`` is what the next request costs (more than is held
    locally), ``want`` the grant asked for (at least ``need``). Returns what is granted, the
    level left, and how long to wait before ``need`` could be granted (0 when it was). As in
    a process's own bucket, a need above the capacity is granted from a full bucket, which
    then owes the difference."""
    if rate <= 0:
        raise ValueError(f"a rate bucket needs a positive rate, not {rate}")
    level = min(capacity, level + max(0.0, elapsed) * rate)
    enough = min(need, capacity)
    if level < enough:
        return 0.0, level, (enough - level) / rate
    granted = max(need, min(want, level))
    return granted, level - granted, 0.0


class RateSource(Protocol):
    """Where the shared buckets are kept (the database), each named by ``kind``
    ("requests", "tokens") within the limit the source stands for. Sources of the same limit
    and place are equal."""

    def draw(
        self, kind: str, rate: float, capacity: float, need: float, want: float
    ) -> tuple[float, float]:
        """``draw_grant`` on the bucket ``kind``, in one transaction: (granted, wait)."""
        ...

    def for_limit(self, name: str) -> RateSource:
        """The buckets of another limit (an endpoint's), kept in the same place."""
        ...


# How often a request waiting for another request's draw looks again.
DRAW_POLL_SECONDS = 0.01


class SharedBucket:
    """A per-minute budget drawn from a ``RateSource`` in grants: the same calls as the
    limiter's own ``TokenBucket``, plus ``start_draw``/``draw`` to top it up. ``lock`` is the
    limiter's: every call but ``draw`` is made holding it."""

    def __init__(
        self,
        source: RateSource,
        kind: str,
        *,
        per_minute: float,
        capacity: float,
        lock: threading.Lock,
    ) -> None:
        self.source, self.kind, self._lock = source, kind, lock
        self.rate = per_minute / 60.0
        self.capacity = capacity
        self.grant = max(1.0, self.rate * GRANT_SECONDS)
        # What this process may still spend (negative: it owes that much, e.g. a request
        # that used more tokens than estimated), until ``lapses_at`` (monotonic).
        self.allowance = 0.0
        self.lapses_at = 0.0
        self.retry_at = 0.0  # the shared bucket said it is empty until then
        self.drawing = False
        self._need = 0.0

    def _lapse(self, now: float) -> None:
        if now >= self.lapses_at and self.allowance > 0:
            self.allowance = 0.0

    def wait_time(self, cost: float, now: float) -> float:
        """0 when the allowance covers ``cost``; else how long before looking again."""
        self._lapse(now)
        if self.allowance >= cost:
            return 0.0
        if not self.drawing and self.retry_at > now:
            return self.retry_at - now
        return DRAW_POLL_SECONDS

    def take(self, cost: float) -> None:
        self.allowance -= cost

    def give_back(self, amount: float) -> None:
        # A refund (fewer tokens used than estimated) never grows the allowance past a grant.
        self.allowance = min(self.allowance + amount, max(self.allowance, self.grant))

    def start_draw(self, cost: float, now: float) -> bool:
        """Whether this request draws for the process now (nobody else is, and the shared
        bucket is not known to be empty); the caller then calls ``draw`` without the lock."""
        self._lapse(now)
        if self.allowance >= cost or self.drawing or now < self.retry_at:
            return False
        self.drawing = True
        self._need = cost - self.allowance
        return True

    def draw(self) -> None:
        """Draw a grant from the source (a blocking call: run it in a thread). The caller
        clears ``drawing`` if it raises."""
        granted, wait = self.source.draw(
            self.kind, self.rate, self.capacity, self._need, max(self._need, self.grant)
        )
        now = time.monotonic()
        with self._lock:
            self._lapse(now)
            self.allowance += granted
            self.lapses_at = now + GRANT_SECONDS
            self.retry_at = now + wait
            self.drawing = False
