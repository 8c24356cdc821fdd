"""How many requests an endpoint takes at once, learned from its replies (AIMD).

A fixed concurrency either wastes a server's capacity or floods it: a llama.cpp server with
two slots queues the rest, and queued requests time out. The limit starts low and grows
while the endpoint answers as fast as it did unloaded, one more request at a time (faster
at first: slow start). It is cut by a factor on a sign of overload: a 429, an overload
status, a timeout, or replies slowing down (the median time per generated token of the
latest replies of one kind of call well above the fast end of what that kind took before:
the server is queueing them). One burst of such replies counts once: a reply to a request
sent before the last cut says nothing new.
"""

from __future__ import annotations

import statistics
from collections import deque

# Where the limit starts, and its floor.
INITIAL_LIMIT = 2.0
MIN_LIMIT = 1.0
# The cut on overload, and the gentler one when replies slow down.
OVERLOAD_FACTOR = 0.7
SLOWDOWN_FACTOR = 0.85
# Replies this many times slower per token than the fast end (10th percentile) of their
# kind are queued behind others.
SLOWDOWN_RATIO = 2.5
# A reply at most this many times slower per token than the fast end was not queued: only
# such replies let the limit grow.
GROW_RATIO = 1.5
# Slowing replies are read as queueing only up to this limit: a server with a few slots
# queues (llama.cpp), while above it slower replies more likely mean a busy client (its own
# event loop), and big servers say they are overloaded (429, 503).
SLOWDOWN_UP_TO = 16
# The replies remembered per kind of call, and the latest ones whose median is judged.
WINDOW = 200
RECENT = 5
# Output tokens added to each reply's count, so short replies are not all overhead.
TOKEN_OFFSET = 16


class AdaptiveLimit:
    """The learned limit of one endpoint; not thread-safe (its Limiter holds the lock)."""

    def __init__(self, ceiling: int, start: int | None = None) -> None:
        self.ceiling = max(1, ceiling)
        # An endpoint that ran before starts where its last run got to, not from low again;
        # the first sign of overload still cuts it.
        self.limit = min(max(INITIAL_LIMIT, float(start or 0)), float(self.ceiling))
        self.slow_start = True
        # Bumped at each cut; a request carries the epoch it was sent in.
        self.epoch = 0
        self._seen: dict[str, deque[float]] = {}
        self._recent: dict[str, deque[float]] = {}

    @property
    def slots(self) -> int:
        return max(1, int(self.limit))

    def overloaded(self, sent_in: int) -> None:
        """A 429, an overload status or a timeout."""
        self._cut(sent_in, OVERLOAD_FACTOR)

    def answered(
        self, sent_in: int, kind: str, seconds: float, output_tokens: int, full: bool
    ) -> None:
        """A reply: cut if the latest ones were queued; grow if this one was not and the
        limit was all in use (``full``) when it was sent."""
        per_token = seconds / (max(0, output_tokens) + TOKEN_OFFSET)
        seen = self._seen.setdefault(kind, deque(maxlen=WINDOW))
        recent = self._recent.setdefault(kind, deque(maxlen=RECENT))
        seen.append(per_token)
        recent.append(per_token)
        fast = _fast_end(seen)  # one sort of the window per reply
        queueing = len(recent) == RECENT and self.limit <= SLOWDOWN_UP_TO
        if queueing and statistics.median(recent) > SLOWDOWN_RATIO * fast:
            recent.clear()  # the next judgement waits for replies sent after this cut
            self._cut(sent_in, SLOWDOWN_FACTOR)
            return
        # Grow only on a reply that was not queued (about as fast as this kind gets).
        unqueued = len(seen) >= 2 and per_token <= GROW_RATIO * fast
        if full and unqueued and sent_in == self.epoch:
            step = 1.0 if self.slow_start else 1.0 / self.limit
            self.limit = min(float(self.ceiling), self.limit + step)

    def _cut(self, sent_in: int, factor: float) -> None:
        if sent_in != self.epoch:
            return  # sent before the last cut: the same burst
        self.limit = max(MIN_LIMIT, self.limit * factor)
        self.slow_start = False
        self.epoch += 1


def _fast_end(samples: deque[float]) -> float:
    """The 10th percentile: how fast this kind of call is answered when nothing waits."""
    ordered = sorted(samples)
    return ordered[len(ordered) // 10]
