"""Which records a rescore task has scored, so a resumed rescore never scores one twice.

A plain judge task knows its open work from the data (records without a score). A rescore
covers scored records too, so the task keeps its own account: sorted id ranges, saved in the
task's params in the same transaction as each score. A range ``[first, last]`` says that every
record the task covers with an id in it has been scored by the task; ids in between that the
filter does not select are simply not records of the task. Runs read records in id order, so
scored ids join into few ranges: only records still open (in flight, or failed in this run)
split them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any


def _start(bounds: list[int]) -> int:
    return bounds[0]


class ScoredRanges:
    """The records a rescore task has scored, as disjoint id ranges sorted by their start."""

    def __init__(self, ranges: list[list[int]] | None = None, scored: int = 0) -> None:
        self.ranges = sorted(([first, last] for first, last in ranges or ()), key=_start)
        self.scored = scored  # how many records the ranges hold
        self._open: list[int] = []  # read in this run, not scored (yet): sorted, as read
        self._last_read: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ScoredRanges:
        data = data or {}
        return cls(data.get("ranges"), int(data.get("records", 0)))

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.scored, "ranges": [list(bounds) for bounds in self.ranges]}

    def covers(self, record_id: int) -> bool:
        index = bisect_right(self.ranges, record_id, key=_start) - 1
        return index >= 0 and self.ranges[index][1] >= record_id

    def read(self, record_id: int) -> None:
        """A record is handed out for scoring (in increasing id order within a run)."""
        assert self._last_read is None or record_id > self._last_read, "ids are read in order"
        self._open.append(record_id)
        self._last_read = record_id

    def _open_between(self, low: int, high: int) -> bool:
        return bisect_left(self._open, high) > bisect_right(self._open, low)

    def _joins_next(self, record_id: int, next_start: int) -> bool:
        """Whether no record the task covers lies between a scored record and the next range.
        Every id below the last one read was read (open, or scored) or is in a range; above
        it, unread records may sit, so only an adjacent range joins then."""
        if next_start == record_id + 1:
            return True
        read_past = self._last_read is not None and next_start <= self._last_read
        return read_past and not self._open_between(record_id, next_start)

    def score(self, record_id: int) -> None:
        """A record read in this run is scored: it joins its neighbour ranges when nothing
        between them is still open."""
        self._open.pop(bisect_left(self._open, record_id))
        index = bisect_right(self.ranges, record_id, key=_start)
        self.ranges.insert(index, [record_id, record_id])
        self.scored += 1
        after = index + 1
        if after < len(self.ranges) and self._joins_next(record_id, self.ranges[after][0]):
            self.ranges[index][1] = self.ranges.pop(after)[1]
        if index > 0 and not self._open_between(self.ranges[index - 1][1], record_id):
            self.ranges[index - 1][1] = self.ranges.pop(index)[1]
