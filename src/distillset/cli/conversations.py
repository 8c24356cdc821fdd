"""`distillset conversations ...`: multi-turn records, reviewed as single records are."""

from __future__ import annotations

import typer

from distillset import resolve
from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    MaxCostOption,
    NoCacheOption,
    ProjectArgument,
    QueueOption,
    YesOption,
    confirm_unless,
    print_json,
    printable,
    report,
    say,
    state_of,
)
from distillset.cli.record_filters import FilterOptions, filter_options
from distillset.cli.task_progress import run_or_queue
from distillset.domain import InvalidInputError
from distillset.review import (
    create_conversation_judge_task,
    delete_conversations,
    edit_turn,
    get_conversation,
    list_conversations,
    set_conversation_note,
    set_conversation_score,
    set_conversations_confirmed,
)

conversations_app = typer.Typer(
    name="conversations",
    no_args_is_help=True,
    help="Multi-turn conversations: list, show, confirm, score, note, edit a turn, delete, judge.",
)
app.add_typer(conversations_app)

IdsArgument = typer.Argument(..., help="Conversation id(s).")


@conversations_app.command("list")
@filter_options("tag", "confirmed", "scored", "min_score", "max_score")
def conversations_list(
    ctx: typer.Context,
    name: str = ProjectArgument,
    filters: FilterOptions = FilterOptions(),
    complete: bool | None = typer.Option(
        None, "--complete/--incomplete", help="Only complete (or unfinished) conversations."
    ),
    after: int | None = typer.Option(None, "--after", help="Continue after this id."),
    limit: int = typer.Option(50, "--limit", help="How many to show (1-1000)."),
    as_json: bool = JsonOption,
) -> None:
    """List conversations with their turns, in id order."""
    if not 1 <= limit <= 1000:
        raise InvalidInputError("--limit must be between 1 and 1000")
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        record_filter = filters.record_filter(session, project)
        records = list_conversations(
            session, project, record_filter, complete=complete, after=after, limit=limit
        )
    if as_json:
        print_json([record.as_dict() for record in records])
        return
    for record in records:
        state = "complete" if record.complete else f"{len(record.turns)} turns so far"
        marks = " ✓" if record.confirmed else ""
        if record.score is not None:
            marks += f" score {record.score:g}"
        for flag in record.flags:
            marks += f" ⚑ {flag['detail']}"
        say(f"#{record.id} [{record.tag_path}] {state}{marks}")
        for turn in record.turns:
            say(f"  {turn.position} {turn.role}: {printable(turn.content, single_line=True)[:100]}")


@conversations_app.command("show")
def conversations_show(
    ctx: typer.Context,
    name: str = ProjectArgument,
    conversation_id: int = typer.Argument(..., help="Conversation id."),
    as_json: bool = JsonOption,
) -> None:
    """Show one conversation: every turn, the teacher's reasoning with it."""
    with state_of(ctx).store.session() as session:
        record = get_conversation(session, resolve.project_named(session, name), conversation_id)
    if as_json:
        print_json(record.as_dict())
        return
    say(f"#{record.id} [{record.tag_path}] rounds {record.rounds}")
    for flag in record.flags:
        say(f"⚑ repeated follow-up: {flag['detail']}")
    for turn in record.turns:
        say(f"--- {turn.position} {turn.role}")
        if turn.reasoning:
            say(f"(reasoning) {turn.reasoning}")
        say(turn.content)


@conversations_app.command("confirm")
def conversations_confirm(
    ctx: typer.Context,
    name: str = ProjectArgument,
    ids: list[int] = IdsArgument,
    undo: bool = typer.Option(False, "--undo", help="Unconfirm instead."),
    as_json: bool = JsonOption,
) -> None:
    """Confirm conversations (or unconfirm them with --undo)."""
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        count = set_conversations_confirmed(session, project, ids, not undo)
    report({"changed": count}, as_json, f"{'un' if undo else ''}confirmed {count} conversation(s)")


@conversations_app.command("score")
def conversations_score(
    ctx: typer.Context,
    name: str = ProjectArgument,
    ids: list[int] = IdsArgument,
    score: float | None = typer.Option(None, "--score", help="0 to 5 in steps of 0.5."),
    reason: str | None = typer.Option(None, "--reason"),
    clear: bool = typer.Option(False, "--clear", help="Remove the score."),
    as_json: bool = JsonOption,
) -> None:
    """Score conversations by hand (or clear their score)."""
    if (score is None) == (not clear):
        raise InvalidInputError("give --score N or --clear")
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        count = set_conversation_score(session, project, ids, score, reason=reason)
    report({"changed": count}, as_json, f"scored {count} conversation(s)")


@conversations_app.command("note")
def conversations_note(
    ctx: typer.Context,
    name: str = ProjectArgument,
    conversation_id: int = typer.Argument(..., help="Conversation id."),
    note: str = typer.Argument(..., help="The note ('' removes it)."),
    as_json: bool = JsonOption,
) -> None:
    """Attach a note to a conversation."""
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        set_conversation_note(session, project, conversation_id, note)
    report({"id": conversation_id}, as_json, f"noted conversation {conversation_id}")


@conversations_app.command("edit")
def conversations_edit(
    ctx: typer.Context,
    name: str = ProjectArgument,
    conversation_id: int = typer.Argument(..., help="Conversation id."),
    turn: int = typer.Option(..., "--turn", help="The turn's position (0: the question)."),
    content: str | None = typer.Option(None, "--content", help="The turn's new text."),
    reasoning: str | None = typer.Option(
        None, "--reasoning", help="A teacher turn's new reasoning ('' removes it)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Change one turn of a conversation."""
    if content is None and reasoning is None:
        raise InvalidInputError("nothing to change: give --content or --reasoning")
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        record = edit_turn(
            session, project, conversation_id, turn, content=content, reasoning=reasoning
        )
        data = record.as_dict()
    report(data, as_json, f"edited turn {turn} of conversation {conversation_id}")


@conversations_app.command("delete")
def conversations_delete(
    ctx: typer.Context,
    name: str = ProjectArgument,
    ids: list[int] = IdsArgument,
    yes: bool = YesOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete conversations with their turns (their questions stay)."""
    confirm_unless(yes, f"Delete {len(ids)} conversation(s)?")
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        count = delete_conversations(session, project, ids)
    report({"deleted": count}, as_json, f"deleted {count} conversation(s)")


@conversations_app.command("judge")
@filter_options("tag", "confirmed", "scored", "min_score", "max_score")
def conversations_judge(
    ctx: typer.Context,
    name: str = ProjectArgument,
    ids: list[int] | None = typer.Option(None, "--id", help="Conversation id (repeatable)."),
    model: str | None = typer.Option(
        None, "--model", help="Judge endpoint alias (default: the project's answer model)."
    ),
    filters: FilterOptions = FilterOptions(),
    rescore: bool = typer.Option(
        False, "--rescore", help="Score scored ones again too (score filters allowed)."
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress output."),
    no_cache: bool = NoCacheOption,
    max_cost: float | None = MaxCostOption,
    queue: bool = QueueOption,
    as_json: bool = JsonOption,
) -> None:
    """Score complete conversations 0-5 as a whole, with their scenario (default: the
    unscored ones; given ids are scored again). A resumable task: run it again, or `tasks
    resume ID`, to score what is left."""
    state = state_of(ctx)
    with state.store.session() as session:
        project = resolve.project_named(session, name)
        record_filter = filters.record_filter(session, project, ids=tuple(ids or ()))
        task_id = create_conversation_judge_task(
            session,
            project,
            model=model,
            record_filter=record_filter,
            rescore=rescore,
            no_cache=no_cache,
            max_cost=max_cost,
        ).id
    run_or_queue(
        state.store,
        state.settings,
        task_id,
        queue=queue,
        as_json=as_json,
        show_progress=not no_progress and not as_json,
    )
