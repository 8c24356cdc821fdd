"""Live counters of a job: planned / done / failed per stage, calls, tokens and cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distillset.domain import Progress, StageCounts
from distillset.llm import ChatResult

MAX_PENDING_EVENTS = 1_000


@dataclass
class CallStats:
    """Calls as the job saw them. Tokens and cost are the task runner's to fill in from the
    usage log, which counts every billed attempt (failed calls too)."""

    requests: int = 0  # sent over the network
    cached: int = 0  # answered from the response cache
    failed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "cached": self.cached, "failed": self.failed}


@dataclass
class JobProgress:
    """Counters the scheduler updates and the task runner persists; done never exceeds planned."""

    stages: Progress = field(default_factory=Progress)
    calls: CallStats = field(default_factory=CallStats)
    events: list[tuple[str, str]] = field(default_factory=list)
    last_error: str | None = None

    def stage(self, name: str) -> StageCounts:
        counts: StageCounts = getattr(self.stages, name)
        return counts

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

    def add_call(self, result: ChatResult) -> None:
        if result.cached:
            self.calls.cached += 1
            return
        self.calls.requests += 1

    def event(self, message: str, level: str = "info") -> None:
        if len(self.events) < MAX_PENDING_EVENTS:
            self.events.append((level, message))

    def take_events(self) -> list[tuple[str, str]]:
        events, self.events = self.events, []
        return events

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = self.stages.as_dict()
        data["calls"] = self.calls.as_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobProgress:
        progress = cls()
        for name in ("tags", "questions", "answers"):
            values = data.get(name) or {}
            counts = progress.stage(name)
            counts.planned = int(values.get("planned", 0))
            counts.done = int(values.get("done", 0))
            counts.failed = int(values.get("failed", 0))
            counts.skipped = int(values.get("skipped", 0))
        calls = data.get("calls") or {}
        progress.calls = CallStats(
            requests=int(calls.get("requests", 0)),
            cached=int(calls.get("cached", 0)),
            failed=int(calls.get("failed", 0)),
        )
        return progress
