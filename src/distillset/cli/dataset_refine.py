"""`distillset dataset refine|history|restore`: rewrite records with advice, see and bring
back their earlier texts."""

from __future__ import annotations

import typer

from distillset import resolve
from distillset.answers import create_refine_task
from distillset.cli.common import (
    JsonOption,
    MaxCostOption,
    NoCacheOption,
    ProjectArgument,
    print_json,
    print_table,
    report,
    state_of,
)
from distillset.cli.dataset import (
    AllOption,
    dataset_app,
    preview,
)
from distillset.cli.record_filters import ALL_FILTERS, FilterOptions, filter_options
from distillset.cli.task_progress import report_outcome, run_task_here
from distillset.review import chosen_filter, record_history, restore_version

RecordIdOption = typer.Option(..., "--id", help="Record id.")


@dataset_app.command("refine")
@filter_options(*ALL_FILTERS)
def dataset_refine(
    ctx: typer.Context,
    name: str = ProjectArgument,
    advice: str = typer.Option(
        ..., "--advice", help="How the answer should change (e.g. 'cite the rule book section')."
    ),
    ids: list[int] | None = typer.Option(
        None, "--id", help="A record to refine (repeat for several); or select with filters."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Endpoint alias that rewrites (default: the project's answer model)."
    ),
    filters: FilterOptions = FilterOptions(),
    everything: bool = AllOption,
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress output."),
    no_cache: bool = NoCacheOption,
    max_cost: float | None = MaxCostOption,
    as_json: bool = JsonOption,
) -> None:
    """Rewrite records' answers (and reasoning) with the teacher, following one advice.

    The text each record had is kept in its history (`dataset history`, `dataset restore`);
    a refined record starts unconfirmed and unscored. A resumable task: run `tasks resume ID`
    after a stop, and records already refined are not refined again.
    """
    state = state_of(ctx)
    with state.store.session() as session:
        project = resolve.project_named(session, name)
        flt = filters.record_filter(session, project)
        record_filter = chosen_filter(ids, flt, everything)
        task = create_refine_task(
            session,
            project,
            advice=advice,
            record_filter=record_filter,
            model=model,
            everything=everything,
            no_cache=no_cache,
            max_cost=max_cost,
        )
        task_id = task.id
    summary = run_task_here(
        state.store, state.settings, task_id, show_progress=not no_progress and not as_json
    )
    report_outcome(summary, as_json)


@dataset_app.command("history")
def dataset_history(
    ctx: typer.Context,
    name: str = ProjectArgument,
    record_id: int = RecordIdOption,
    as_json: bool = JsonOption,
) -> None:
    """The earlier texts of a record, oldest first, with what replaced each."""
    with state_of(ctx).store.session() as session:
        versions = record_history(session, resolve.project_named(session, name), record_id)
    if as_json:
        print_json([version.as_dict() for version in versions])
        return
    print_table(
        ["version", "replaced at", "replaced by", "model", "answer"],
        [
            [
                version.version,
                version.as_dict()["replaced_at"],
                preview(version.change, 40),
                version.model or "",
                preview(version.answer, 50),
            ]
            for version in versions
        ],
    )


@dataset_app.command("restore")
def dataset_restore(
    ctx: typer.Context,
    name: str = ProjectArgument,
    record_id: int = RecordIdOption,
    version: int = typer.Option(..., "--version", help="The version to bring back."),
    as_json: bool = JsonOption,
) -> None:
    """Bring back an earlier text of a record; the current one is kept as a new version."""
    with state_of(ctx).store.session() as session:
        record = restore_version(session, resolve.project_named(session, name), record_id, version)
    report(record.as_dict(), as_json, f"record {record.id}: version {version} restored")
