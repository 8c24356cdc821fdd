"""One limiter per project: a sliding window of in-flight requests plus RPM/TPM buckets.

A slot is handed to the next waiter the moment a request finishes (no fixed waves).
The limiter is thread-safe and works across event loops, so tasks of one project that
run in different threads still share it. Its RPM/TPM buckets may be kept elsewhere and
shared with other processes (``share_rates``; ``llm.rate_grants``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from distillset.llm.adaptive import AdaptiveLimit
from distillset.llm.rate_grants import RateSource, SharedBucket

# Providers quantize per-minute limits (60 rpm is enforced as about 1 per second), so
# the buckets hold one second's worth and refill continuously.
BURST_SECONDS = 1.0


def burst(per_minute: float) -> float:
    """What a bucket of this rate holds when full."""
    return max(1.0, per_minute / 60.0 * BURST_SECONDS)


class TokenBucket:
    """A refilling budget; a cost larger than the burst is allowed from a full bucket."""

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = burst(per_minute)
        self.level = self.capacity
        self.updated = time.monotonic()

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_time(self, cost: float, now: float) -> float:
        self._refill(now)
        needed = min(cost, self.capacity)
        if self.level >= needed:
            return 0.0
        return (needed - self.level) / self.rate

    def take(self, cost: float) -> None:
        self.level -= cost

    def give_back(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)


@dataclass(slots=True)
class Permit:
    """A held slot; ``tokens`` is what was taken from the TPM bucket. ``epoch`` and ``full``:
    the adaptive limit's epoch when it was granted, and whether that took the last slot."""

    tokens: float
    released: bool = field(default=False)
    granted_at: float = field(default_factory=time.monotonic)
    epoch: int = 0
    full: bool = False


class Limiter:
    def __init__(
        self,
        max_concurrency: int,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        *,
        adaptive: bool = False,
        start: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        # Learns how many requests the endpoint takes at once, under max_concurrency,
        # from ``start`` (what an earlier run learned) if given.
        self._adaptive = AdaptiveLimit(max_concurrency, start) if adaptive else None
        self._in_flight = 0
        # Slots kept free for requests another process may still have out (a run that was
        # taken over while stopped): counted as in flight here until released.
        self._reserved = 0
        # The slots this process may use of a limit it shares with other processes (slot
        # leases in the database); None: the whole limit is this process's.
        self._share: int | None = None
        # A waiter is the future its request awaits; its result is the granted slot.
        self._waiters: deque[asyncio.Future[None]] = deque()
        # Slots granted to waiters of another event loop, not yet woken there.
        self._granted_elsewhere: set[asyncio.Future[None]] = set()
        self._paused_until = 0.0
        # When each held permit was granted (by id): requests out and waiting for a reply.
        self._held: dict[int, float] = {}
        self.max_concurrency = max(1, max_concurrency)
        # Where the RPM/TPM buckets are kept when other processes share them (the database);
        # None: in this process.
        self._rates: RateSource | None = None
        self._rpm: TokenBucket | SharedBucket | None = None
        self._tpm: TokenBucket | SharedBucket | None = None
        self.configure(max_concurrency, requests_per_minute, tokens_per_minute)

    def configure(
        self, max_concurrency: int, requests_per_minute: int | None, tokens_per_minute: int | None
    ) -> None:
        """Apply changed project settings; buckets are rebuilt only when their rate changed."""
        with self._lock:
            self.max_concurrency = max(1, max_concurrency)
            if self._adaptive is not None:
                self._adaptive.ceiling = self.max_concurrency
            self._rpm = self._bucket(self._rpm, "requests", requests_per_minute)
            self._tpm = self._bucket(self._tpm, "tokens", tokens_per_minute)
            self._grant_waiting()

    def share_rates(self, source: RateSource | None) -> None:
        """Draw the RPM/TPM budgets from ``source``, shared with other processes (None: keep
        them in this process again)."""
        with self._lock:
            if source == self._rates:
                return
            self._rates = source
            rpm = None if self._rpm is None else self._rpm.rate * 60.0
            tpm = None if self._tpm is None else self._tpm.rate * 60.0
            self._rpm = self._bucket(None, "requests", rpm)
            self._tpm = self._bucket(None, "tokens", tpm)

    @property
    def rates(self) -> RateSource | None:
        """Where the RPM/TPM buckets are shared, if they are."""
        return self._rates

    def _bucket(
        self, current: TokenBucket | SharedBucket | None, kind: str, per_minute: float | None
    ) -> TokenBucket | SharedBucket | None:
        """The bucket of a per-minute limit: ``current`` unless its rate changed (caller
        holds the lock)."""
        if per_minute is None:
            return None
        if current is not None and current.rate == per_minute / 60.0:
            return current
        if self._rates is None:
            return TokenBucket(per_minute)
        return SharedBucket(
            self._rates, kind, per_minute=per_minute, capacity=burst(per_minute), lock=self._lock
        )

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def concurrency(self) -> int:
        """How many requests may be out now: the maximum, or the adaptive limit under it."""
        if self._adaptive is None:
            return self.max_concurrency
        return min(self.max_concurrency, self._adaptive.slots)

    def feedback(
        self,
        permit: Permit,
        *,
        kind: str,
        overloaded: bool = False,
        output_tokens: int | None = None,
    ) -> None:
        """How the request of ``permit`` went, for the adaptive limit: overloaded (a 429, an
        overload status, a timeout), or answered with ``output_tokens``."""
        adaptive = self._adaptive
        if adaptive is None:
            return
        with self._lock:
            if overloaded:
                adaptive.overloaded(permit.epoch)
            elif output_tokens is not None:
                seconds = time.monotonic() - permit.granted_at
                adaptive.answered(permit.epoch, kind, seconds, output_tokens, permit.full)
            self._grant_waiting()

    def reserve(self, count: int) -> int:
        """Keep up to ``count`` slots free of this process's requests; returns how many
        (never more than the concurrency). Give them back with ``unreserve``."""
        with self._lock:
            taken = max(0, min(count, self.max_concurrency - self._reserved))
            self._reserved += taken
            return taken

    def unreserve(self, count: int) -> None:
        with self._lock:
            self._reserved = max(0, self._reserved - count)
            self._grant_waiting()

    def set_share(self, slots: int | None) -> None:
        """Use at most ``slots`` of the limit (the slots this process leased of a limit shared
        with other processes); None: all of it. Requests out above it keep their slot."""
        with self._lock:
            self._share = None if slots is None else max(0, slots)
            self._grant_waiting()

    @property
    def usable(self) -> int:
        """How many requests this process may have out now (its share of the limit)."""
        if self._share is None:
            return self.concurrency
        return min(self._share, self.concurrency)

    def _has_room(self) -> bool:
        """Whether one more request may go out (caller holds the lock)."""
        if self._share is not None and self._in_flight >= self._share:
            return False
        return self._in_flight + self._reserved < self.concurrency

    def waiting(self) -> tuple[int, float]:
        """How many granted requests are still out, and for how many seconds the oldest of
        them has waited: a stalled endpoint shows here long before any request times out."""
        with self._lock:
            if not self._held:
                return 0, 0.0
            return len(self._held), time.monotonic() - min(self._held.values())

    def pause(self, seconds: float) -> None:
        """Hold every new request back for ``seconds`` (a 429 told us to)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire(self, estimated_tokens: float = 0.0) -> Permit:
        # The waits are awaited here, not in helper coroutines: thousands of requests can
        # wait at once, and each coroutine they hold is more work for every GC pass.
        waiter = self._take_slot_or_queue()
        if waiter is not None:
            try:
                await waiter
            except BaseException:
                self._leave_queue(waiter)
                raise
        if self._rpm is not None or self._tpm is not None or self._paused_until > time.monotonic():
            try:
                await self._wait_for_budget(estimated_tokens)
            except BaseException:
                self._release_slot()
                raise
        permit = Permit(estimated_tokens if self._tpm is not None else 0.0)
        with self._lock:
            self._held[id(permit)] = permit.granted_at
            if self._adaptive is not None:
                permit.epoch = self._adaptive.epoch
                permit.full = self._in_flight + self._reserved >= self.concurrency
        return permit

    def release(self, permit: Permit, actual_tokens: int | None = None) -> None:
        """Free the slot and settle the TPM estimate with the reported usage."""
        if permit.released:
            return
        permit.released = True
        with self._lock:
            self._held.pop(id(permit), None)
            if self._tpm is not None and actual_tokens is not None and permit.tokens:
                self._tpm.give_back(permit.tokens - actual_tokens)
            self._in_flight -= 1
            self._grant_waiting()

    def _take_slot_or_queue(self) -> asyncio.Future[None] | None:
        """Take a free slot (None), or join the queue for one (the future to await)."""
        with self._lock:
            if self._has_room() and not self._waiters:
                self._in_flight += 1
                return None
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            return waiter

    def _leave_queue(self, waiter: asyncio.Future[None]) -> None:
        """A waiter gave up (cancelled): out of the queue, or its granted slot back."""
        with self._lock:
            granted = waiter in self._granted_elsewhere or (
                waiter.done() and not waiter.cancelled()
            )
            self._granted_elsewhere.discard(waiter)
            if not granted and waiter in self._waiters:
                self._waiters.remove(waiter)
        if granted:
            self._release_slot()

    def _wake(self, waiter: asyncio.Future[None]) -> None:
        """Runs in the waiter's own loop: hand it the slot granted from another thread."""
        with self._lock:
            # A waiter cancelled meanwhile stays in the set: leaving, it gives the slot back.
            if waiter in self._granted_elsewhere and not waiter.done():
                self._granted_elsewhere.discard(waiter)
                waiter.set_result(None)

    def _release_slot(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._grant_waiting()

    def _grant_waiting(self) -> None:
        """Hand free slots to waiters in arrival order (caller holds the lock)."""
        while self._waiters and self._has_room():
            waiter = self._waiters.popleft()
            if waiter.done():  # cancelled while queued
                continue
            self._in_flight += 1
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is waiter.get_loop():
                waiter.set_result(None)  # not done: checked above, under the lock
            else:
                self._granted_elsewhere.add(waiter)
                waiter.get_loop().call_soon_threadsafe(self._wake, waiter)

    async def _wait_for_budget(self, tokens: float) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                delay = self._paused_until - now
                if self._rpm is not None:
                    delay = max(delay, self._rpm.wait_time(1, now))
                if self._tpm is not None:
                    delay = max(delay, self._tpm.wait_time(tokens, now))
                if delay <= 0:
                    if self._rpm is not None:
                        self._rpm.take(1)
                    if self._tpm is not None:
                        self._tpm.take(tokens)
                    return
                # Shared buckets this request tops up for the process (outside the lock).
                draws = [
                    bucket
                    for bucket, cost in ((self._rpm, 1.0), (self._tpm, tokens))
                    if isinstance(bucket, SharedBucket)
                    and now >= self._paused_until
                    and bucket.start_draw(cost, now)
                ]
            if draws:
                try:
                    for bucket in draws:
                        await asyncio.to_thread(bucket.draw)
                finally:  # (one failed or was cancelled: the others may be drawn again)
                    with self._lock:
                        for bucket in draws:
                            bucket.drawing = False
                continue
            await asyncio.sleep(delay)


class LimiterRegistry:
    """Limiters shared by every gateway of the process, keyed by project or endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limiters: dict[object, Limiter] = {}

    def get(
        self,
        key: object,
        max_concurrency: int,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        *,
        adaptive: bool = False,
        start: int | None = None,
    ) -> Limiter:
        with self._lock:
            limiter = self._limiters.get((key, adaptive))
            if limiter is None:
                limiter = Limiter(
                    max_concurrency,
                    requests_per_minute,
                    tokens_per_minute,
                    adaptive=adaptive,
                    start=start,
                )
                self._limiters[(key, adaptive)] = limiter
                return limiter
        limiter.configure(max_concurrency, requests_per_minute, tokens_per_minute)
        return limiter


_registry: LimiterRegistry | None = None
_registry_lock = threading.Lock()


def shared_limiters() -> LimiterRegistry:
    """The process-wide registry, created on first use."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = LimiterRegistry()
        return _registry
