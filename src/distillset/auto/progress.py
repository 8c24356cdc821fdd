"""Live counters of a distillation job: its three stages, then calls, tokens and cost."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from distillset.llm import ChatResult
from distillset.runs.kinds import Stage
from distillset.runs.progress import StageProgress

# The stages a distillation task declares, in the order the interfaces show them.
DISTILL_STAGES = (
    Stage("tags", "Tags"),
    Stage("questions", "Questions"),
    Stage("answers", "Answers"),
    Stage("turns", "Conversation turns", optional=True),
)
STAGE_NAMES = tuple(stage.name for stage in DISTILL_STAGES)


@dataclass
class CallStats:
    """Calls as the job saw them. Tokens and cost are the task runner's to fill in from the
    usage log, which counts every billed attempt (failed calls too)."""

    requests: int = 0  # sent over the network
    cached: int = 0  # answered from the response cache
    failed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "cached": self.cached, "failed": self.failed}


# Ids of the items a run created, kept per stage up to this many: an interface that waits for
# a small job (a tag's questions, one answer) shows what it made; a large run keeps the first.
CREATED_KEPT = 200


class JobProgress(StageProgress):
    """Counters the scheduler updates and the task runner persists; done never exceeds planned."""

    def __init__(self) -> None:
        super().__init__(STAGE_NAMES)
        self.calls = CallStats()
        self.created: dict[str, list[int]] = {name: [] for name in STAGE_NAMES}

    def note_created(self, name: str, ids: list[int]) -> None:
        kept = self.created[name]
        kept.extend(ids[: max(0, CREATED_KEPT - len(kept))])

    def resume(self, remaining: Mapping[str, int]) -> None:
        """Counters for the whole job when a run resumes it: what earlier runs did plus what
        is still planned (``remaining``, per stage; a plan shrinks as work gets done).

        Failures of earlier runs are retried now, so only the work still to do is open.
        """
        for name, still in remaining.items():
            counts = self.stage(name)
            counts.done = max(0, counts.planned - still) if counts.planned else 0
            counts.planned = counts.done + still
            counts.failed = 0
            counts.skipped = 0

    def add_call(self, result: ChatResult) -> None:
        if result.cached:
            self.calls.cached += 1
            return
        self.calls.requests += 1

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data["calls"] = self.calls.as_dict()
        data["created"] = {name: list(ids) for name, ids in self.created.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobProgress:
        progress = cls()
        progress.load(data)
        calls = data.get("calls") or {}
        progress.calls = CallStats(
            requests=int(calls.get("requests", 0)),
            cached=int(calls.get("cached", 0)),
            failed=int(calls.get("failed", 0)),
        )
        created = data.get("created") or {}
        for name in STAGE_NAMES:
            progress.created[name] = [int(i) for i in created.get(name, [])][:CREATED_KEPT]
        return progress
