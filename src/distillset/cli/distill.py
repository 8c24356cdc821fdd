"""`distillset tags generate`, `questions generate|list`, `answers generate`, `auto`."""

from __future__ import annotations

from collections.abc import Callable

import typer
from sqlalchemy.orm import Session

from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    ProjectArgument,
    print_json,
    print_table,
    say,
    state_of,
)
from distillset.cli.tags import tags_app
from distillset.cli.task_progress import report_outcome, run_task_here
from distillset.config import Settings
from distillset.distill import jobs
from distillset.distill.jobs import PlannedJob

questions_app = typer.Typer(name="questions", no_args_is_help=True, help="Questions of a project.")
answers_app = typer.Typer(name="answers", no_args_is_help=True, help="Answers from the teacher.")
app.add_typer(questions_app)
app.add_typer(answers_app)


def plan_text(job: PlannedJob) -> str:
    plan = job.plan
    text = (
        f"plan for {job.project!r} (task {job.task_id}): create {plan.tags} tags "
        f"({plan.leaves} leaves), {plan.questions} questions, {plan.answers} answers; "
        f"about {sum(plan.calls.values())} model calls"
    )
    if plan.estimated_cost is not None:
        text += f", estimated cost {plan.estimated_cost:.4f}"
    return text


def run_planned(
    ctx: typer.Context, as_json: bool, create: Callable[[Session, Settings], PlannedJob]
) -> None:
    """Create the task with ``create``, print its plan, run it with progress, print the
    outcome; exit non-zero if it did not succeed."""
    state = state_of(ctx)
    with state.store.session() as session:
        job = create(session, state.settings)
    if not as_json:
        say(plan_text(job))
    summary = run_task_here(state.store, state.settings, job.task_id, show_progress=not as_json)
    report_outcome(summary, as_json)


@tags_app.command("generate")
def tags_generate(
    ctx: typer.Context,
    name: str = ProjectArgument,
    parent: str | None = typer.Option(
        None, "--parent", help="Parent tag 'A > B' (default: topic)."
    ),
    count: int = typer.Option(
        ..., "--count", "-n", help="How many children the parent should have."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Top a tag's children (or the topic's) up to COUNT with the question model."""
    run_planned(
        ctx,
        as_json,
        lambda session, settings: jobs.create_tags_job(
            session, settings, name, parent=parent, count=count
        ),
    )


@questions_app.command("generate")
def questions_generate(
    ctx: typer.Context,
    name: str = ProjectArgument,
    tag: str = typer.Option(..., "--tag", help="Tag path 'A > B'."),
    count: int = typer.Option(..., "--count", "-n", help="How many questions the tag should have."),
    as_json: bool = JsonOption,
) -> None:
    """Top a tag's questions up to COUNT with the question model."""
    run_planned(
        ctx,
        as_json,
        lambda session, settings: jobs.create_questions_job(
            session, settings, name, tag=tag, count=count
        ),
    )


@questions_app.command("list")
def questions_list(
    ctx: typer.Context,
    name: str = ProjectArgument,
    tag: str | None = typer.Option(None, "--tag", help="Only this tag and its subtree."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    as_json: bool = JsonOption,
) -> None:
    """List questions with their tag and whether they are answered."""
    with state_of(ctx).store.session() as session:
        rows = jobs.list_questions(session, name, tag=tag, limit=limit)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["id", "tag", "question", "answered"],
        [
            [row["id"], row["tag"], row["question"], "yes" if row["answered"] else "no"]
            for row in rows
        ],
    )


@answers_app.command("generate")
def answers_generate(
    ctx: typer.Context,
    name: str = ProjectArgument,
    question: list[int] | None = typer.Option(
        None, "--question", "-q", help="Question id (repeatable)."
    ),
    tag: str | None = typer.Option(
        None, "--tag", help="Only unanswered questions of this subtree."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Answer questions with the answer model (default: every unanswered question)."""
    run_planned(
        ctx,
        as_json,
        lambda session, settings: jobs.create_answers_job(
            session, settings, name, question_ids=question or None, tag=tag
        ),
    )


@app.command("auto")
def auto(
    ctx: typer.Context,
    name: str = ProjectArgument,
    topic: str | None = typer.Option(None, "--topic", help="Root topic (default: the project's)."),
    levels: int = typer.Option(2, "--levels", help="Levels of tags below the topic (1-6)."),
    tags: int = typer.Option(10, "--tags", help="Tags per level (1-100)."),
    questions: int = typer.Option(10, "--questions", help="Questions per leaf tag (1-100)."),
    as_json: bool = JsonOption,
) -> None:
    """Automatic distillation: tags, questions and answers in one resumable task."""
    run_planned(
        ctx,
        as_json,
        lambda session, settings: jobs.create_auto_job(
            session, settings, name, levels=levels, tags=tags, questions=questions, topic=topic
        ),
    )
