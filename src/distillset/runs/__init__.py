"""Runs (background tasks): persisted rows with progress, heartbeat, cancel and resume.

The kinds of task are declared by the packages that run them and registered by the
application (``distillset.kinds``); this package knows none of them.
"""

from distillset.runs.kinds import KindRegistry, Stage, TaskKindSpec
from distillset.runs.progress import StageProgress
from distillset.runs.queue import enqueue, for_workers, requeue
from distillset.runs.rows import (
    claim_task,
    effective_status,
    get_task,
    list_tasks,
    process_owner,
    recent_events,
    refresh_status,
    refuse_if_blocked,
    request_cancel,
    task_as_dict,
)
from distillset.runs.runner import SupervisedRun, ask_fresh, reads_cache, run_task, set_budget
from distillset.runs.shared import can_share
from distillset.runs.worker import Worker

__all__ = [
    "KindRegistry",
    "Stage",
    "StageProgress",
    "SupervisedRun",
    "TaskKindSpec",
    "Worker",
    "ask_fresh",
    "can_share",
    "claim_task",
    "effective_status",
    "enqueue",
    "for_workers",
    "get_task",
    "list_tasks",
    "process_owner",
    "reads_cache",
    "recent_events",
    "refresh_status",
    "refuse_if_blocked",
    "request_cancel",
    "requeue",
    "run_task",
    "set_budget",
    "task_as_dict",
]
