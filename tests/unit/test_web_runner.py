"""The web server's task runner: a shutdown interrupts what it started, never cancels it."""

from __future__ import annotations

import asyncio

from distillset.auto.plan import JobSpec, plan_job
from distillset.auto.run import create_task
from distillset.config import Settings
from distillset.domain import TaskKind
from distillset.projects.lifecycle import create_project
from distillset.store import Store, Task
from distillset.web.runner import TaskRunner


def test_a_shutdown_before_a_started_run_claims_its_task_leaves_it_interrupted(
    store: Store, settings: Settings
) -> None:
    with store.session() as session:
        project = create_project(session, "Sports")
        spec = JobSpec(answer=True)
        plan, _ready = plan_job(session, project.id, spec)
        task = create_task(session, project, TaskKind.ANSWERS, spec, plan)
        task_id = task.id
        assert task.status == "queued"

    async def start_then_shut_down() -> None:
        runner = TaskRunner(store, settings)
        runner.start(task_id)  # scheduled, not yet run: the shutdown comes first
        await runner.shutdown()
        assert not runner.is_running(task_id)

    asyncio.run(start_then_shut_down())

    with store.session() as session:
        stopped = session.get(Task, task_id)
        assert stopped is not None
        assert stopped.status == "interrupted" and not stopped.cancel_requested
