"""`distillset worker`: run the tasks queued for workers (`--queue`, or a web app started
with --queue), resume those whose process died, and share running jobs on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, datetime

import typer

from distillset import resolve
from distillset.cli.app import app
from distillset.cli.common import say, state_of
from distillset.runs import can_share


@app.command("worker")
def worker_command(
    ctx: typer.Context,
    project: list[str] | None = typer.Option(
        None, "--project", "-p", help="Only tasks of this project (repeatable; default: all)."
    ),
    once: bool = typer.Option(
        False, "--once", help="Stop once nothing is left to run or share (default: keep going)."
    ),
    poll: float = typer.Option(
        1.0, "--poll", min=0.05, help="Seconds between looks for work when there is none."
    ),
) -> None:
    """Run queued tasks (of every project, or of --project ones); several workers may run
    side by side, and on PostgreSQL they share one job.

    Ctrl+C stops it: its task is left interrupted, and another worker resumes it."""
    from distillset.kinds import new_worker

    state = state_of(ctx)
    project_ids = None
    if project:
        with state.store.session() as session:
            project_ids = [resolve.project_named(session, name).id for name in project]
    if not can_share(state.store):
        say(
            "worker on SQLite: it runs queued tasks on this machine; several workers sharing "
            "one job (or working from several machines) need PostgreSQL "
            "(DISTILLSET_DATABASE_URL=postgresql+psycopg://...)"
        )
    worker = new_worker(state.store, state.settings, project_ids=project_ids, say=_stamped)

    async def main() -> None:
        job = asyncio.current_task()
        assert job is not None
        # SIGTERM ends the worker as Ctrl+C does; loops without signal handlers (Windows,
        # NotImplementedError) or off the main thread (RuntimeError) keep the default.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, job.cancel)
        await worker.run(once=once, poll_seconds=poll)

    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(main())
    say(f"worker stopped: ran {worker.tasks_run} tasks, joined {worker.jobs_joined} shared jobs")


def _stamped(message: str) -> None:
    say(f"{datetime.now(UTC):%H:%M:%S} {message}")
