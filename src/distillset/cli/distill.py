"""`distillset tags generate`, `questions generate|list`, `answers generate`, `auto`
(`questions edit|delete|move|export` live in cli/questions.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from sqlalchemy.orm import Session

from distillset import auto as auto_distill
from distillset import resolve
from distillset.auto import PlannedJob, PlanNeedsConfirmation
from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    MaxCostOption,
    NoCacheOption,
    ProjectArgument,
    QueueOption,
    YesOption,
    print_json,
    print_table,
    say,
    state_of,
)
from distillset.cli.lazy import LazyGroup
from distillset.cli.models import warn
from distillset.cli.tags import tags_app
from distillset.cli.task_progress import run_or_queue
from distillset.config import Settings
from distillset.projects import project_key_warnings

questions_app = typer.Typer(
    name="questions", cls=LazyGroup, no_args_is_help=True, help="Questions of a project."
)
answers_app = typer.Typer(
    name="answers", cls=LazyGroup, no_args_is_help=True, help="Answers from the teacher."
)
app.add_typer(questions_app)
app.add_typer(answers_app)

QUESTIONS_PAGE = 100


def count_options(what: str) -> tuple[Any, Any]:
    """--count (a total to top up to) and --add (n more than now): exactly one is given."""
    return (
        typer.Option(None, "--count", "-n", help=f"Top up to this many {what} in all (1-100)."),
        typer.Option(
            None, "--add", help=f"Create this many {what} more than there are now (1-100)."
        ),
    )


TagCountOption, TagAddOption = count_options("children")
DatasetTypeOption = typer.Option(
    "single",
    "--dataset-type",
    help="single: an answer per question; multi: a multi-turn conversation; both.",
)
QuestionCountOption, QuestionAddOption = count_options("questions")


def plan_text(job: PlannedJob) -> str:
    plan = job.plan
    resumed = f"resuming interrupted task {job.task_id}" if job.resumed else f"task {job.task_id}"
    text = (
        f"plan for {job.project!r} ({resumed}): create {plan.tags} tags "
        f"({plan.leaves} leaves), {plan.questions} questions, {plan.answers} answers"
    )
    if plan.conversations:
        text += f", {plan.conversations} conversations ({plan.turns} turns)"
    text += f"; about {plan.total_calls} model calls"
    if plan.estimated_cost is not None:
        text += f", estimated cost {plan.estimated_cost:.4f}"
        defaults = sorted(
            p for p, basis in plan.estimate_basis.items() if basis.startswith("default")
        )
        if defaults:
            text += (
                f" ({', '.join(defaults)}: default token sizes, no call of the endpoint seen yet)"
            )
    return text


def create_confirmed(
    ctx: typer.Context, create: Callable[[Session, Settings, bool], PlannedJob], yes: bool
) -> PlannedJob:
    """Create the job's task; a large plan is shown and confirmed first (unless --yes).
    Asking happens outside any transaction: the refused attempt created nothing."""
    state = state_of(ctx)
    try:
        with state.store.session() as session:
            return create(session, state.settings, yes)
    except PlanNeedsConfirmation as exc:
        reason = exc.plan.why_confirm()
        typer.confirm(f"{reason}. Start it?", abort=True, err=True)
    with state.store.session() as session:
        return create(session, state.settings, True)


def run_planned(
    ctx: typer.Context,
    as_json: bool,
    create: Callable[[Session, Settings, bool], PlannedJob],
    yes: bool = True,
    queue: bool = False,
) -> None:
    """Create the task with ``create`` (given whether a large plan is confirmed), print its
    plan, run it with progress, print the outcome; exit non-zero if it did not succeed.
    ``queue``: leave it to the workers instead."""
    state = state_of(ctx)
    job = create_confirmed(ctx, create, yes)
    with state.store.session() as session:
        warn(project_key_warnings(session, state.settings, job.project_id))
    if not as_json:
        say(plan_text(job))
    run_or_queue(
        state.store, state.settings, job.task_id, queue=queue, as_json=as_json,
        show_progress=not as_json,
    )  # fmt: skip


SemanticDedupOption = typer.Option(
    None,
    "--semantic-dedup",
    help="Drop a new question whose meaning is this close (embedding cosine, 0-1] to a "
    "question anywhere in the project, and ask for another (needs --embeddings).",
)
EmbeddingsOption = typer.Option(
    None, "--embeddings", help="Endpoint alias serving OpenAI-compatible /embeddings."
)


@tags_app.command("generate")
def tags_generate(
    ctx: typer.Context,
    name: str = ProjectArgument,
    parent: str | None = typer.Option(
        None, "--parent", help="Parent tag 'A > B' (default: topic)."
    ),
    count: int | None = TagCountOption,
    add: int | None = TagAddOption,
    no_cache: bool = NoCacheOption,
    max_cost: float | None = MaxCostOption,
    queue: bool = QueueOption,
    as_json: bool = JsonOption,
) -> None:
    """Top a tag's children (or the topic's) up to --count, or create --add more, with the
    question model."""

    def create(session: Session, settings: Settings, _confirmed: bool) -> PlannedJob:
        project = resolve.project_named(session, name)
        parent_id = resolve.parent_id(session, project, parent)
        return auto_distill.create_tags_job(
            session, settings, project.id, parent_id=parent_id, count=count, add=add,
            no_cache=no_cache,
            max_cost=max_cost,
        )  # fmt: skip

    run_planned(ctx, as_json, create, queue=queue)


@questions_app.command("generate")
def questions_generate(
    ctx: typer.Context,
    name: str = ProjectArgument,
    tag: str = typer.Option(..., "--tag", help="Tag path 'A > B'."),
    count: int | None = QuestionCountOption,
    add: int | None = QuestionAddOption,
    semantic_dedup: float | None = SemanticDedupOption,
    embeddings: str | None = EmbeddingsOption,
    no_cache: bool = NoCacheOption,
    max_cost: float | None = MaxCostOption,
    queue: bool = QueueOption,
    as_json: bool = JsonOption,
) -> None:
    """Top a tag's questions up to --count, or create --add more, with the question model."""

    def create(session: Session, settings: Settings, _confirmed: bool) -> PlannedJob:
        project = resolve.project_named(session, name)
        tag_id = resolve.tag_at(session, project, tag).id
        return auto_distill.create_questions_job(
            session, settings, project.id, tag_id=tag_id, count=count, add=add,
            no_cache=no_cache,
            max_cost=max_cost, semantic_dedup=semantic_dedup, embeddings=embeddings,
        )  # fmt: skip

    run_planned(ctx, as_json, create, queue=queue)


@questions_app.command("list")
def questions_list(
    ctx: typer.Context,
    name: str = ProjectArgument,
    tag: str | None = typer.Option(None, "--tag", help="Only this tag and its subtree."),
    limit: int = typer.Option(QUESTIONS_PAGE, "--limit", min=1, help="At most this many."),
    after: int | None = typer.Option(
        None, "--after", min=0, help="Only questions after this id (the next page)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """List questions in id order with their tag and whether they are answered, a page of
    --limit at a time (--after ID for the next page)."""
    with state_of(ctx).store.session() as session:
        # One row past the page says whether a next page exists.
        project = resolve.project_named(session, name)
        tag_id = resolve.tag_id(session, project, tag)
        rows = auto_distill.list_questions(
            session, project.id, tag_id=tag_id, limit=limit + 1, after=after
        )
    more, rows = len(rows) > limit, rows[:limit]
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
    if more:
        # On stderr: the table on stdout stays clean for scripts.
        typer.echo(
            f"more questions follow: add --after {rows[-1]['id']} for the next page", err=True
        )


BATCH_HELP = (
    "Send the requests through the answer model's batch interface (/v1/batches): cheaper "
    "(see the endpoint's --batch-discount), answered within the provider's window (hours)."
)
BATCH_ANSWERS_HELP = (
    "Send the answers through the answer model's batch interface as questions accumulate "
    "(cheaper, slower; tags and questions are asked at once)."
)
SamplesOption = typer.Option(
    1, "--samples", help="Answers per question (1-16; best-of-N, each its own record)."
)
TemperatureOption = typer.Option(
    None, "--temperature", help="Sampling temperature of the answers (default: the endpoint's)."
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
    no_cache: bool = NoCacheOption,
    max_cost: float | None = MaxCostOption,
    resample: bool = typer.Option(
        False, "--resample", help="Replace the answers of the --question ids with new samples."
    ),
    dataset_type: str = DatasetTypeOption,
    batch: bool = typer.Option(False, "--batch", help=BATCH_HELP),
    samples: int = SamplesOption,
    temperature: float | None = TemperatureOption,
    yes: bool = YesOption,
    queue: bool = QueueOption,
    as_json: bool = JsonOption,
) -> None:
    """Answer questions with the answer model (default: every unanswered question). A plan
    above the bound on calls or cost is confirmed first (--yes: do not ask)."""

    def create(session: Session, settings: Settings, confirmed: bool) -> PlannedJob:
        project = resolve.project_named(session, name)
        return auto_distill.create_answers_job(
            session, settings, project.id, question_ids=question or None,
            tag_id=resolve.tag_id(session, project, tag), no_cache=no_cache, max_cost=max_cost,
            confirm_large=confirmed, resample=resample, dataset_type=dataset_type, batch=batch,
            samples=samples, temperature=temperature,
        )  # fmt: skip

    run_planned(ctx, as_json, create, yes, queue)


@app.command("auto")
def auto(
    ctx: typer.Context,
    name: str = ProjectArgument,
    topic: str | None = typer.Option(
        None,
        "--topic",
        help="Root topic (default: the project's); on an empty tree it becomes the project's.",
    ),
    levels: int = typer.Option(2, "--levels", help="Levels of tags below the topic (1-6)."),
    tags: int = typer.Option(10, "--tags", help="Tags per level (1-100)."),
    questions: int = typer.Option(10, "--questions", help="Questions per leaf tag (1-100)."),
    dataset_type: str = DatasetTypeOption,
    samples: int = SamplesOption,
    temperature: float | None = TemperatureOption,
    semantic_dedup: float | None = SemanticDedupOption,
    embeddings: str | None = EmbeddingsOption,
    no_cache: bool = NoCacheOption,
    max_cost: float | None = MaxCostOption,
    batch_answers: bool = typer.Option(False, "--batch-answers", help=BATCH_ANSWERS_HELP),
    yes: bool = YesOption,
    queue: bool = QueueOption,
    as_json: bool = JsonOption,
) -> None:
    """Automatic distillation: tags, questions and answers in one resumable task. A plan
    above the bound on calls or cost is confirmed first (--yes: do not ask)."""
    run_planned(
        ctx,
        as_json,
        lambda session, settings, confirmed: auto_distill.create_auto_job(
            session,
            settings,
            resolve.project_id(session, name),
            levels=levels,
            tags=tags,
            questions=questions,
            topic=topic,
            no_cache=no_cache,
            max_cost=max_cost,
            confirm_large=confirmed,
            dataset_type=dataset_type,
            batch_answers=batch_answers,
            samples=samples,
            temperature=temperature,
            semantic_dedup=semantic_dedup,
            embeddings=embeddings,
        ),
        yes,
        queue,
    )
