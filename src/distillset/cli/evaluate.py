"""`distillset eval NAME --student ALIAS | --student-path DIR [...]`: students against the
teacher on the held-out records, judged; a table, JSON or Markdown."""

from __future__ import annotations

from pathlib import Path

import typer

from distillset import resolve
from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    MaxCostOption,
    NoCacheOption,
    ProjectArgument,
    print_table,
    say,
    state_of,
)
from distillset.cli.record_filters import FilterOptions, filter_options
from distillset.cli.task_progress import report_outcome, run_task_here
from distillset.evaluate import as_markdown, create_eval_task, table_rows


@app.command("eval")
@filter_options("confirmed_only", "tag", "min_score")
def eval_command(
    ctx: typer.Context,
    name: str = ProjectArgument,
    student: list[str] = typer.Option(
        [],
        "--student",
        help="A student served by an OpenAI-compatible endpoint (its alias); repeat to compare.",
    ),
    student_path: list[Path] = typer.Option(
        [],
        "--student-path",
        help="A student on disk, generated locally with transformers; repeat to compare.",
    ),
    judge: str | None = typer.Option(
        None, "--judge", help="Judge endpoint alias (default: the project's answer model)."
    ),
    eval_split: float = typer.Option(
        0.05, "--eval-split", help="The held-out fraction of each tag (as given to train)."
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the held-out split (as given to train)."),
    max_new_tokens: int = typer.Option(
        512, "--max-new-tokens", help="--student-path: tokens generated per answer at most."
    ),
    filters: FilterOptions = FilterOptions(),
    balanced: int | None = typer.Option(None, "--balanced", help="At most K records per leaf tag."),
    markdown: Path | None = typer.Option(
        None, "--markdown", help="Also write the report as a Markdown file."
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress output."),
    no_cache: bool = NoCacheOption,
    max_cost: float | None = MaxCostOption,
    as_json: bool = JsonOption,
) -> None:
    """Measure students against the teacher on the held-out records, with a judge model.

    Per tag and overall: the grade with the teacher's answer as reference, both answers'
    grades without it (the student's as a fraction of the teacher's), and win / tie / loss
    against the teacher's answer (asked in both orders). Resume with `tasks resume ID`.
    """
    state = state_of(ctx)
    with state.store.session() as session:
        project = resolve.project_named(session, name)
        record_filter = filters.record_filter(session, project)
        task = create_eval_task(
            session,
            project,
            students=list(student),
            student_paths=[str(path) for path in student_path],
            judge=judge,
            record_filter=record_filter,
            balanced=balanced,
            eval_fraction=eval_split,
            seed=seed,
            max_new_tokens=max_new_tokens,
            no_cache=no_cache,
            max_cost=max_cost,
        )
        task_id = task.id
    summary = run_task_here(
        state.store, state.settings, task_id, show_progress=not no_progress and not as_json
    )
    report = (summary.get("counters") or {}).get("report")
    if report is not None and markdown is not None:
        markdown.write_text(as_markdown(report), encoding="utf-8")
    if report is not None and not as_json:
        columns = ["student", "tag", "records", "score vs ref", "score", "teacher",
                   "of teacher", "win", "tie", "loss"]  # fmt: skip
        print_table(columns, table_rows(report))
        if markdown is not None:
            say(f"report written to {markdown}")
    report_outcome(summary, as_json)
