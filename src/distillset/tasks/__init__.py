"""Background tasks: persisted rows with progress, heartbeat, cancel and resume.

The kinds of task are declared by the packages that run them and registered by the
application (``distillset.kinds``); this package knows none of them.
"""

from distillset.tasks.kinds import KindRegistry, Stage, TaskKindSpec
from distillset.tasks.progress import StageProgress
from distillset.tasks.runner import SupervisedRun, ask_fresh, reads_cache, run_task
from distillset.tasks.service import (
    claim_task,
    effective_status,
    get_task,
    list_tasks,
    recent_events,
    request_cancel,
    task_as_dict,
)

__all__ = [
    "KindRegistry",
    "Stage",
    "StageProgress",
    "SupervisedRun",
    "TaskKindSpec",
    "ask_fresh",
    "claim_task",
    "effective_status",
    "get_task",
    "list_tasks",
    "recent_events",
    "reads_cache",
    "request_cancel",
    "run_task",
    "task_as_dict",
]
