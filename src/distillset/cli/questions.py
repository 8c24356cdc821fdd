"""`distillset questions edit|delete|move|export`: questions as items of their own
(`generate` and `list` live in cli/distill.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.orm import Session

from distillset import export, questions, resolve, tags
from distillset.cli.common import (
    JsonOption,
    ProjectArgument,
    YesOption,
    confirm_unless,
    report,
    state_of,
)
from distillset.cli.distill import questions_app
from distillset.questions import QuestionFilter
from distillset.store import Project

IdsArgument = typer.Argument(None, help="Question ids (or select with filters / --all).")
TagFilter = typer.Option(None, "--tag", help="Only this tag and its subtree ('A > B').")
AnsweredFilter = typer.Option(
    None, "--answered/--unanswered", help="Only answered (or unanswered) questions."
)
SearchFilter = typer.Option(None, "--search", help="Text in the question.")
AllOption = typer.Option(False, "--all", help="Every question of the project.")


def _filter(
    session: Session, project: Project, tag: str | None, answered: bool | None, search: str | None
) -> QuestionFilter:
    return QuestionFilter(
        tag_id=resolve.tag_id(session, project, tag), answered=answered, search=search
    )


@questions_app.command("edit")
def questions_edit(
    ctx: typer.Context,
    name: str = ProjectArgument,
    question_id: int = typer.Argument(..., help="Question id."),
    text: str = typer.Option(..., "--text", help="The new text (its answers stay)."),
    as_json: bool = JsonOption,
) -> None:
    """Change a question's text; its answers stay with it."""
    with state_of(ctx).store.session() as session:
        row = questions.edit_question(
            session, resolve.project_named(session, name), question_id, text
        )
    report(row.as_dict(), as_json, f"question {row.id} updated")


@questions_app.command("delete")
def questions_delete(
    ctx: typer.Context,
    name: str = ProjectArgument,
    ids: list[int] | None = IdsArgument,
    tag: str | None = TagFilter,
    answered: bool | None = AnsweredFilter,
    search: str | None = SearchFilter,
    everything: bool = AllOption,
    yes: bool = YesOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete questions with their answers, by id or by filter (asks first unless --yes)."""
    store = state_of(ctx).store
    with store.session() as session:
        project = resolve.project_named(session, name)
        flt = _filter(session, project, tag, answered, search)
        chosen, chosen_filter = questions.chosen_questions(ids, flt, everything)
        counts = questions.count_questions(
            session, project, ids=chosen, question_filter=chosen_filter
        )
    confirm_unless(yes, f"Delete {counts.questions} questions and their {counts.answers} answers?")
    with store.session() as session:
        deleted = questions.delete_questions(
            session, resolve.project_named(session, name), ids=chosen, question_filter=chosen_filter
        )
    report(
        deleted.as_dict(),
        as_json,
        f"deleted {deleted.questions} questions and {deleted.answers} answers",
    )


@questions_app.command("move")
def questions_move(
    ctx: typer.Context,
    name: str = ProjectArgument,
    ids: list[int] | None = IdsArgument,
    to: str = typer.Option(..., "--to", help="The tag to move them under ('A > B')."),
    tag: str | None = TagFilter,
    answered: bool | None = AnsweredFilter,
    search: str | None = SearchFilter,
    everything: bool = AllOption,
    as_json: bool = JsonOption,
) -> None:
    """Move questions (with their answers) under another tag, by id or by filter."""
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        target = resolve.tag_at(session, project, to)
        flt = _filter(session, project, tag, answered, search)
        chosen, chosen_filter = questions.chosen_questions(ids, flt, everything)
        moved = questions.move_questions(
            session, project, target.id, ids=chosen, question_filter=chosen_filter
        )
        path = str(tags.tag_path(session, target))
    report(
        {"moved": moved, "tag_id": target.id, "tag_path": path},
        as_json,
        f"moved {moved} questions to {path!r}",
    )


@questions_app.command("export")
def questions_export(
    ctx: typer.Context,
    name: str = ProjectArgument,
    output: Path = typer.Option(
        ..., "--output", "-o", help="A .jsonl, .csv, .json or .parquet file."
    ),
    file_format: str | None = typer.Option(
        None, "--file-format", help="jsonl, csv, json or parquet (default: by the name)."
    ),
    tag: str | None = TagFilter,
    answered: bool | None = AnsweredFilter,
    search: str | None = SearchFilter,
    as_json: bool = JsonOption,
) -> None:
    """Export questions alone (id, tag path, question), for a teacher run elsewhere."""
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        flt = _filter(session, project, tag, answered, search)
        result = export.export_questions(
            session, project, output, file_format=file_format, question_filter=flt
        )
    report(result.as_dict(), as_json, f"wrote {result.questions} questions to {output}")
