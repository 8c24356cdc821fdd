"""`distillset dataset list|show|tokens|edit|confirm|unconfirm|score|note|label|delete`
(`import` lives in cli/dataset_import.py; `duplicates`, `flags` and `decontaminate` in
cli/dataset_quality.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from sqlalchemy.orm import Session

from distillset import quality, resolve
from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    ProjectArgument,
    YesOption,
    print_json,
    print_table,
    report,
    say,
    show,
    state_of,
)
from distillset.cli.lazy import LazyGroup
from distillset.cli.record_filters import ALL_FILTERS, FilterOptions, filter_options
from distillset.domain import InvalidInputError
from distillset.review import (
    DatasetRecord,
    RecordFilter,
    RecordPage,
    change_labels,
    chosen_records,
    count_records,
    delete_records,
    edit_record,
    get_record,
    list_records,
    set_confirmed,
    set_note,
    set_score,
)
from distillset.store import Project

dataset_app = typer.Typer(
    name="dataset",
    cls=LazyGroup,
    no_args_is_help=True,
    help="Review the dataset: list, edit, confirm, score, import.",
)
app.add_typer(dataset_app)

IdsArgument = typer.Argument(None, help="Record ids (or select with filters / --all).")
AllOption = typer.Option(False, "--all", help="Every record of the project.")


def preview(text: str | None, width: int = 60) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _row(record: DatasetRecord) -> list[Any]:
    return [
        record.id,
        record.tag_path,
        preview(record.question),
        preview(record.answer, 40),
        "yes" if record.reasoning else "no",
        "yes" if record.confirmed else "no",
        record.score,
        ",".join(record.labels),
    ]


@dataset_app.command("list")
@filter_options(*ALL_FILTERS)
def dataset_list(
    ctx: typer.Context,
    name: str = ProjectArgument,
    filters: FilterOptions = FilterOptions(),
    flag: str | None = typer.Option(
        None,
        "--flag",
        help="Only records with this automatic flag (refusal, wrong_language, leaked_reasoning, "
        "truncated, length_outlier, restates_question; see `dataset flags`).",
    ),
    limit: int = typer.Option(50, "--limit", help="Records per page (1-1000)."),
    cursor: int | None = typer.Option(None, "--cursor", help="next_cursor of the previous page."),
    newest: bool = typer.Option(False, "--newest", help="Newest records first."),
    count: bool = typer.Option(False, "--count", help="Also count every matching record."),
    as_json: bool = JsonOption,
) -> None:
    """List records page by page (the last line tells how to get the next page)."""
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        flt = filters.record_filter(session, project)
        if flag is not None:
            page, total = _flagged_page(session, project, flt, flag, cursor, limit, newest, count)
        else:
            page = list_records(
                session, project, flt, cursor=cursor, limit=limit, newest_first=newest
            )
            total = count_records(session, project, flt) if count else None
    if as_json:
        data = page.as_dict()
        if total is not None:
            data["total"] = total
        print_json(data)
        return
    print_table(
        ["id", "tag", "question", "answer", "reasoning", "confirmed", "score", "labels"],
        [_row(record) for record in page.records],
    )
    if total is not None:
        say(f"{total} matching records")
    if page.next_cursor is not None:
        say(f"more: --cursor {page.next_cursor}")


def _flagged_page(
    session: Session,
    project: Project,
    flt: RecordFilter,
    flag: str,
    cursor: int | None,
    limit: int,
    newest: bool,
    count: bool,
) -> tuple[RecordPage, int | None]:
    page = quality.list_flagged(
        session, project, flag, flt, cursor=cursor, limit=limit, newest_first=newest
    )
    return page, quality.count_flagged(session, project, flag, flt) if count else None


@dataset_app.command("show")
def dataset_show(
    ctx: typer.Context,
    name: str = ProjectArgument,
    record_id: int = typer.Argument(..., help="Record id."),
    as_json: bool = JsonOption,
) -> None:
    """Show one record in full."""
    with state_of(ctx).store.session() as session:
        record = get_record(session, resolve.project_named(session, name), record_id)
    show(record.as_dict(), as_json)


@dataset_app.command("tokens")
def dataset_tokens(
    ctx: typer.Context,
    name: str = ProjectArgument,
    record_id: int = typer.Argument(..., help="Record id."),
    lowest: int = typer.Option(
        10, "--lowest", min=1, max=1000, help="How many of the least likely tokens."
    ),
    alternatives: int = typer.Option(
        3, "--alternatives", min=0, max=100, help="Alternatives shown per token."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Print the tokens of a record the teacher was least sure of, from its soft labels."""
    # Imported here: reading soft labels loads the gateway's codec, `dataset list` does not.
    from distillset.review import lowest_confidence

    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        tokens = lowest_confidence(session, project, record_id, lowest)
    if as_json:
        print_json([token.as_dict() for token in tokens])
        return
    print_table(
        ["position", "token", "p", "part", "alternatives"],
        [
            [
                token.position,
                repr(token.token),
                f"{token.probability:.3f}",
                "answer" if token.in_answer else "reasoning",
                ", ".join(f"{text!r} {p:.3f}" for text, p in token.alternatives[:alternatives]),
            ]
            for token in tokens
        ],
    )


@dataset_app.command("edit")
def dataset_edit(
    ctx: typer.Context,
    name: str = ProjectArgument,
    record_id: int = typer.Argument(..., help="Record id."),
    question: str | None = typer.Option(
        None, "--question", help="New question text (cannot be empty)."
    ),
    answer: str | None = typer.Option(None, "--answer", help="New answer text (cannot be empty)."),
    reasoning: str | None = typer.Option(
        None, "--reasoning", help="New reasoning ('' removes it)."
    ),
    clear_reasoning: bool = typer.Option(False, "--clear-reasoning", help="Remove the reasoning."),
    as_json: bool = JsonOption,
) -> None:
    """Edit the question, answer or reasoning of a record.

    Only the reasoning can be removed: a record is a question with its answer, neither empty.
    To drop a record, delete it (`distillset dataset delete NAME ID`).
    """
    if question is None and answer is None and reasoning is None and not clear_reasoning:
        raise InvalidInputError("nothing to change: give --question, --answer or --reasoning")
    with state_of(ctx).store.session() as session:
        record = edit_record(
            session,
            resolve.project_named(session, name),
            record_id,
            question=question,
            answer=answer,
            reasoning=reasoning,
            clear_reasoning=clear_reasoning,
        )
    report(record.as_dict(), as_json, f"record {record.id} updated")


def _confirmation_command(value: bool) -> Callable[..., None]:
    """`confirm` and `unconfirm`: the same selection, setting confirmed to ``value``."""

    @filter_options(
        "tag", "has_reasoning", "min_score", "max_score", "model_name", "search", "label"
    )
    def command(
        ctx: typer.Context,
        name: str = ProjectArgument,
        ids: list[int] | None = IdsArgument,
        filters: FilterOptions = FilterOptions(),
        everything: bool = AllOption,
        as_json: bool = JsonOption,
    ) -> None:
        with state_of(ctx).store.session() as session:
            project = resolve.project_named(session, name)
            flt = filters.record_filter(session, project)
            chosen_ids, chosen_filter = chosen_records(ids, flt, everything)
            changed = set_confirmed(
                session,
                project,
                value,
                ids=chosen_ids,
                record_filter=chosen_filter,
            )
        report(
            {"records": changed, "confirmed": value},
            as_json,
            f"{'confirmed' if value else 'unconfirmed'} {changed} records",
        )

    return command


dataset_app.command("confirm", help="Confirm records, by id or by filter.")(
    _confirmation_command(True)
)
dataset_app.command("unconfirm", help="Take back confirmation, by id or by filter.")(
    _confirmation_command(False)
)


@dataset_app.command("score")
@filter_options("tag", "confirmed", "search", "label")
def dataset_score(
    ctx: typer.Context,
    name: str = ProjectArgument,
    ids: list[int] | None = IdsArgument,
    score: float | None = typer.Option(None, "--score", help="0 to 5 in steps of 0.5."),
    reason: str | None = typer.Option(None, "--reason", help="Why this score."),
    clear: bool = typer.Option(False, "--clear", help="Remove the score."),
    filters: FilterOptions = FilterOptions(),
    everything: bool = AllOption,
    as_json: bool = JsonOption,
) -> None:
    """Score records by hand (0-5 in steps of 0.5), or clear their score."""
    if (score is None) == (not clear):
        raise InvalidInputError("give --score X or --clear (one of them)")
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        flt = filters.record_filter(session, project)
        chosen_ids, chosen_filter = chosen_records(ids, flt, everything)
        changed = set_score(
            session,
            project,
            None if clear else score,
            reason=reason,
            ids=chosen_ids,
            record_filter=chosen_filter,
        )
    report(
        {"records": changed, "score": None if clear else score},
        as_json,
        f"{'cleared the score of' if clear else 'scored'} {changed} records",
    )


@dataset_app.command("note")
def dataset_note(
    ctx: typer.Context,
    name: str = ProjectArgument,
    record_id: int = typer.Argument(..., help="Record id."),
    note: str = typer.Argument(..., help="The note ('' removes it)."),
    as_json: bool = JsonOption,
) -> None:
    """Attach a note to a record."""
    with state_of(ctx).store.session() as session:
        set_note(session, resolve.project_named(session, name), record_id, note)
    report(
        {"record": record_id, "note": note if note.strip() else None},
        as_json,
        f"record {record_id}: note {'saved' if note.strip() else 'removed'}",
    )


@dataset_app.command("label")
def dataset_label(
    ctx: typer.Context,
    name: str = ProjectArgument,
    ids: list[int] = typer.Argument(..., help="Record ids."),
    add: list[str] = typer.Option([], "--add", help="Label to add (repeatable)."),
    remove: list[str] = typer.Option([], "--remove", help="Label to remove (repeatable)."),
    as_json: bool = JsonOption,
) -> None:
    """Add or remove custom labels on records."""
    if not add and not remove:
        raise InvalidInputError("give --add LABEL or --remove LABEL")
    with state_of(ctx).store.session() as session:
        changed = change_labels(
            session, resolve.project_named(session, name), ids, add=add, remove=remove
        )
    report({"records": changed}, as_json, f"labels changed on {changed} records")


@dataset_app.command("delete")
@filter_options("tag", "confirmed", "max_score", "model_name", "search", "label")
def dataset_delete(
    ctx: typer.Context,
    name: str = ProjectArgument,
    ids: list[int] | None = IdsArgument,
    filters: FilterOptions = FilterOptions(),
    everything: bool = AllOption,
    yes: bool = YesOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete records; their questions stay and become unanswered again."""
    store = state_of(ctx).store
    with store.session() as session:
        project = resolve.project_named(session, name)
        flt = filters.record_filter(session, project)
        chosen_ids, chosen_filter = chosen_records(ids, flt, everything)
        many: int | None = None  # asked only to confirm
        if not yes:
            many = len(chosen_ids) if chosen_ids else count_records(session, project, flt)
    if many is not None:
        typer.confirm(f"Delete {many} records?", abort=True)
    with store.session() as session:
        result = delete_records(
            session,
            resolve.project_named(session, name),
            ids=chosen_ids,
            record_filter=chosen_filter,
        )
    report(
        {"records": result.records, "questions_unanswered": result.questions_unanswered},
        as_json,
        f"deleted {result.records} records; "
        f"{result.questions_unanswered} questions are unanswered again",
    )
