"""Background tasks: persisted rows with progress, heartbeat, cancel and resume."""

from distillset.tasks.runner import run_task
from distillset.tasks.service import (
    claim_task,
    create_job_task,
    effective_status,
    get_task,
    list_tasks,
    recent_events,
    request_cancel,
    task_as_dict,
)

__all__ = [
    "claim_task",
    "create_job_task",
    "effective_status",
    "get_task",
    "list_tasks",
    "recent_events",
    "request_cancel",
    "run_task",
    "task_as_dict",
]
