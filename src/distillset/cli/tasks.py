"""`distillset tasks list|show|resume|cancel`."""

from __future__ import annotations

import typer

from distillset import projects, resolve, runs
from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    MaxCostOption,
    NoCacheOption,
    print_fields,
    print_json,
    print_table,
    report,
    say,
    state_of,
)
from distillset.cli.models import warn
from distillset.cli.task_progress import (
    batches_line,
    calls_line,
    report_outcome,
    run_task_here,
    stage_names,
    stages_line,
    training_line,
)
from distillset.domain import TaskStatus
from distillset.projects import project_key_warnings
from distillset.runs import ask_fresh, set_budget
from distillset.store import Project, utc_iso

tasks_app = typer.Typer(
    name="tasks", no_args_is_help=True, help="Background tasks and their progress."
)
app.add_typer(tasks_app)

TaskIdArgument = typer.Argument(..., help="Task id (see `distillset tasks list`).")


@tasks_app.command("list")
def tasks_list(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Only this project's tasks."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many, newest first."),
    as_json: bool = JsonOption,
) -> None:
    """List tasks, newest first; a running task whose process died shows as interrupted."""
    from distillset.kinds import task_as_dict  # every kind's package: only when listing

    state = state_of(ctx)
    with state.store.session() as session:
        project_id = resolve.project_named(session, name).id if name else None
        names = {project.id: project.name for project in session.query(Project)}
        rows = [
            task_as_dict(task, state.settings, names.get(task.project_id))
            for task in runs.list_tasks(session, state.settings, project_id, limit)
        ]
    if as_json:
        print_json(rows)
        return
    print_table(
        ["id", "project", "kind", "status", "progress", "created"],
        [
            [
                row["id"],
                row["project"],
                row["kind"],
                row["status"],
                stages_line(row["counters"] or {}, stage_names(row)),
                row["created_at"],
            ]
            for row in rows
        ],
    )


@tasks_app.command("show")
def tasks_show(
    ctx: typer.Context,
    task_id: int = TaskIdArgument,
    as_json: bool = JsonOption,
) -> None:
    """A task's status, counters, parameters and recent events."""
    from distillset.kinds import task_as_dict  # every kind's package: only when showing

    state = state_of(ctx)
    with state.store.session() as session:
        task = runs.refresh_status(session, runs.get_task(session, task_id), state.settings)
        project = session.get(Project, task.project_id)
        data = task_as_dict(task, state.settings, project.name if project else None)
        data["events"] = [
            {"at": utc_iso(event.created_at), "level": event.level, "message": event.message}
            for event in runs.recent_events(session, task_id)
        ]
    if as_json:
        print_json(data)
        return
    counters = data["counters"] or {}
    fields = {
        "id": data["id"],
        "project": data["project"],
        "kind": data["kind"],
        "status": data["status"],
        "params": data["params"],
        "progress": stages_line(counters, stage_names(data)),
        "calls": calls_line(counters),
        "batches": batches_line(counters) or None,
    }
    if "training" in counters:  # a training task: its losses and throughput
        fields["training"] = training_line(counters)
    print_fields(
        fields
        | {
            "last error": data["last_error"],
            "started": data["started_at"],
            "finished": data["finished_at"],
            "elapsed (s)": data["elapsed_seconds"],
        }
    )
    for event in data["events"]:
        say(f"  {event['at']} {event['level']}: {event['message']}")


@tasks_app.command("resume")
def tasks_resume(
    ctx: typer.Context,
    task_id: int = TaskIdArgument,
    no_cache: bool = NoCacheOption,
    max_cost: float | None = MaxCostOption,
    as_json: bool = JsonOption,
) -> None:
    """Continue a task from what is stored; calls that already succeeded are not paid twice
    (unless the task was started or is resumed with --no-cache). A task paused at its
    budget goes on with a higher --max-cost."""
    state = state_of(ctx)
    with state.store.session() as session:
        task = runs.get_task(session, task_id)
        if no_cache:
            ask_fresh(task)
        set_budget(task, max_cost)
        warn(project_key_warnings(session, state.settings, task.project_id))
    summary = run_task_here(state.store, state.settings, task_id, show_progress=not as_json)
    report_outcome(summary, as_json)


@tasks_app.command("cancel")
def tasks_cancel(
    ctx: typer.Context,
    task_id: int = TaskIdArgument,
    as_json: bool = JsonOption,
) -> None:
    """Stop a task: the process running it ends it as cancelled within a second."""
    state = state_of(ctx)
    with state.store.session() as session:
        task = runs.request_cancel(session, runs.get_task(session, task_id), state.settings)
        data = {"id": task_id, "status": task.status, "cancel_requested": task.cancel_requested}
    if data["status"] == TaskStatus.CANCELLED:
        # No process runs it: its batches at the provider are cancelled from here.
        for problem in projects.cancel_remote_batches_now(state.store, state.settings, task_id):
            typer.echo(f"warning: {problem}", err=True)
    report(
        data,
        as_json,
        f"task {task_id} cancelled"
        if data["status"] == TaskStatus.CANCELLED
        else f"cancel requested: task {task_id} stops within a second",
    )
