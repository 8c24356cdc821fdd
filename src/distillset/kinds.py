"""The task kinds this application runs, declared from the top.

Each package declares its kinds (``distill.run.DISTILL_KINDS``, ``quality.JUDGE_KIND``,
``train.TRAIN_KIND``);
this module gathers them in the registry the runner looks kinds up in, so the runs package
(``distillset.runs``) never imports a kind. The interfaces run and show tasks through here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from distillset.answers.refine import REFINE_KIND
from distillset.answers.score_tokens import SCORE_TOKENS_KIND
from distillset.auto.run import DISTILL_KINDS
from distillset.config import Settings
from distillset.evaluate import EVAL_KIND
from distillset.review.auto_tag import AUTO_TAG_KIND
from distillset.review.conversation_judge import CONVERSATION_JUDGE_KIND
from distillset.review.difficulty import RATE_KIND
from distillset.review.judge import JUDGE_KIND
from distillset.runs import rows as service
from distillset.runs import runner
from distillset.runs.kinds import KindRegistry, ProgressCallback, Stage
from distillset.runs.worker import Worker
from distillset.store import Store, Task
from distillset.train import TRAIN_KIND

__all__ = ["KINDS", "new_worker", "run_task", "stages_of", "task_as_dict"]

KINDS = KindRegistry(
    [
        *DISTILL_KINDS,
        JUDGE_KIND,
        CONVERSATION_JUDGE_KIND,
        RATE_KIND,
        REFINE_KIND,
        AUTO_TAG_KIND,
        SCORE_TOKENS_KIND,
        TRAIN_KIND,
        EVAL_KIND,
    ]
)


async def run_task(
    store: Store,
    settings: Settings,
    task_id: int,
    *,
    cancel_event: asyncio.Event | None = None,
    on_progress: ProgressCallback | None = None,
    use_cache: bool = True,
) -> dict[str, Any]:
    """Run (or resume) a task of any declared kind to its end; returns the task as a dict.

    Setting ``cancel_event`` (or `tasks cancel ID` from any process) ends it as cancelled;
    cancelling the coroutine itself (a server shutting down) leaves it interrupted.
    """
    return await runner.run_task(
        KINDS,
        store,
        settings,
        task_id,
        cancel_event=cancel_event,
        on_progress=on_progress,
        use_cache=use_cache,
    )


def new_worker(
    store: Store,
    settings: Settings,
    *,
    project_ids: list[int] | None = None,
    say: Callable[[str], None] | None = None,
) -> Worker:
    """A worker that runs the queued tasks of every declared kind (`distillset worker`)."""
    return Worker(KINDS, store, settings, project_ids=project_ids, say=say)


def stages_of(kind: str) -> tuple[Stage, ...]:
    """The stages a kind's tasks count, in the order the interfaces show them."""
    return KINDS.stages(kind)


def task_as_dict(task: Task, settings: Settings, project_name: str | None = None) -> dict[str, Any]:
    """A task as the interfaces show it: its row, with the stages its kind declares."""
    data = service.task_as_dict(task, settings, project_name)
    data["stages"] = [stage.as_dict() for stage in stages_of(task.kind)]
    return data
