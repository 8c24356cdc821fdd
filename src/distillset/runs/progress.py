"""Counters of a task run, one per stage its kind declares: planned / done / failed / skipped.

Every kind keeps its counters through this one class, so the task row's counters are
``{stage name: {planned, done, failed, skipped}, ...}`` whatever the kind, and the
interfaces render them from the kind's declared stages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from distillset.domain import StageCounts

MAX_PENDING_EVENTS = 1_000


class StageProgress:
    """Per-stage counters, the events to write at the next flush and the latest error.

    Done, failed and skipped together never exceed planned.
    """

    def __init__(self, stage_names: Iterable[str]) -> None:
        self.counts: dict[str, StageCounts] = {name: StageCounts() for name in stage_names}
        self.events: list[tuple[str, str]] = []
        self.last_error: str | None = None

    def stage(self, name: str) -> StageCounts:
        return self.counts[name]

    def add_done(self, name: str, count: int = 1) -> None:
        counts = self.stage(name)
        counts.done = min(counts.planned - counts.failed - counts.skipped, counts.done + count)

    def add_failed(self, name: str, count: int, reason: str | None = None) -> None:
        counts = self.stage(name)
        counts.failed = min(counts.planned - counts.done - counts.skipped, counts.failed + count)
        if reason:
            self.last_error = reason

    def add_skipped(self, name: str, count: int = 1) -> None:
        """Work whose target was deleted before it was sent: not done, not failed."""
        counts = self.stage(name)
        counts.skipped = min(counts.planned - counts.done - counts.failed, counts.skipped + count)

    def drop_planned(self, name: str, count: int) -> None:
        """Work no longer planned because what it hangs on failed (the subtree of a tag that
        could not be created, the answers of questions that were not): not attempted, so not
        failed either. A resume plans it again."""
        counts = self.stage(name)
        open_work = counts.planned - counts.done - counts.failed - counts.skipped
        counts.planned -= max(0, min(count, open_work))

    def failed_items(self) -> int:
        return sum(counts.failed for counts in self.counts.values())

    def event(self, message: str, level: str = "info") -> None:
        if len(self.events) < MAX_PENDING_EVENTS:
            self.events.append((level, message))

    def take_events(self) -> list[tuple[str, str]]:
        events, self.events = self.events, []
        return events

    def as_dict(self) -> dict[str, Any]:
        return {name: counts.as_dict() for name, counts in self.counts.items()}

    def load(self, data: Mapping[str, Any]) -> None:
        """Read the stage counters stored in a task row (stages it lacks stay at zero)."""
        for name, counts in self.counts.items():
            values = data.get(name) or {}
            counts.planned = int(values.get("planned", 0))
            counts.done = int(values.get("done", 0))
            counts.failed = int(values.get("failed", 0))
            counts.skipped = int(values.get("skipped", 0))


def initial_counters(planned: Mapping[str, int]) -> dict[str, Any]:
    """A new task row's counters: each stage with what is planned for it."""
    progress = StageProgress(planned)
    for name, count in planned.items():
        progress.stage(name).planned = count
    return progress.as_dict()
