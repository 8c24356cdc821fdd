"""`distillset project ...`: create, list, show, change and delete projects."""

from __future__ import annotations

from typing import Any

import typer

from distillset import projects, resolve
from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    ProjectArgument,
    YesOption,
    confirm_unless,
    number_or_clear,
    print_json,
    print_table,
    report,
    show,
    state_of,
)
from distillset.domain import InvalidInputError

project_app = typer.Typer(
    name="project", no_args_is_help=True, help="Projects: create, list, show, change, delete."
)
app.add_typer(project_app)

LANGUAGE_HELP = (
    "Generation language: a code such as en, zh, tr, fr or pt-BR (en, zh and tr have prompts "
    "of their own; other languages use the English prompts, asking for replies in that language)."
)


@project_app.command("create")
def project_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Project name; also the default topic."),
    topic: str | None = typer.Option(None, "--topic", help="Root of the domain tree."),
    language: str = typer.Option("en", "--language", help=LANGUAGE_HELP),
    description: str = typer.Option("", "--description"),
    as_json: bool = JsonOption,
) -> None:
    """Create a project."""
    with state_of(ctx).store.session() as session:
        project = projects.create_project(
            session, name, topic=topic, language=language, description=description
        )
        data = projects.project_as_dict(project)
    report(
        data,
        as_json,
        f"created project {data['name']!r} (topic {data['topic']!r}, {data['language']})",
    )


@project_app.command("list")
def project_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List projects with their sizes."""
    with state_of(ctx).store.session() as session:
        rows = [
            projects.project_as_dict(project) | projects.project_stats(session, project.id)
            for project in projects.list_projects(session)
        ]
    if as_json:
        print_json(rows)
        return
    print_table(
        ["name", "topic", "language", "tags", "questions", "answers"],
        [
            [r["name"], r["topic"], r["language"], r["tags"], r["questions"], r["answers"]]
            for r in rows
        ],
    )


@project_app.command("show")
def project_show(
    ctx: typer.Context, name: str = ProjectArgument, as_json: bool = JsonOption
) -> None:
    """Show a project's settings and sizes."""
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        data = projects.project_as_dict(project) | projects.project_stats(session, project.id)
        data["multi_turn"] = projects.multi_turn_setting(session, project.id).as_dict()
    show(data, as_json)


@project_app.command("set")
def project_set(
    ctx: typer.Context,
    name: str = ProjectArgument,
    question_model: str | None = typer.Option(
        None,
        "--question-model",
        help="Endpoint alias that writes tags and questions ('none' or '' unsets it).",
    ),
    answer_model: str | None = typer.Option(
        None,
        "--answer-model",
        help="Endpoint alias that answers, the teacher ('none' or '' unsets it).",
    ),
    max_concurrency: int | None = typer.Option(None, "--max-concurrency"),
    rpm: str | None = typer.Option(
        None, "--rpm", help="Requests per minute ('none' or 0: no limit)."
    ),
    tpm: str | None = typer.Option(
        None, "--tpm", help="Tokens per minute ('none' or 0: no limit)."
    ),
    retries: int | None = typer.Option(None, "--retries", help="Retries per model call."),
    timeout: float | None = typer.Option(None, "--timeout", help="Request timeout in seconds."),
    max_cost: str | None = typer.Option(
        None,
        "--max-cost",
        help="Budget of each task started without --max-cost, in the endpoints' price unit "
        "('none' or 0: no budget).",
    ),
    answer_system_prompt: str | None = typer.Option(
        None, "--answer-system-prompt", help="System prompt for answers ('' clears it)."
    ),
    language: str | None = typer.Option(None, "--language", help=LANGUAGE_HELP),
    topic: str | None = typer.Option(None, "--topic"),
    description: str | None = typer.Option(None, "--description"),
    scenario: str | None = typer.Option(
        None, "--scenario", help="Multi-turn: the conversations' scenario ('' clears it)."
    ),
    user_role: str | None = typer.Option(
        None, "--user-role", help="Multi-turn: who asks, e.g. 'a student' ('' clears it)."
    ),
    assistant_role: str | None = typer.Option(
        None, "--assistant-role", help="Multi-turn: who answers, e.g. 'a PE teacher'."
    ),
    rounds: int | None = typer.Option(
        None, "--rounds", help="Multi-turn: rounds per conversation (default 3)."
    ),
    conversation_system_prompt: str | None = typer.Option(
        None, "--conversation-system-prompt", help="Multi-turn: the records' system prompt."
    ),
    user_model: str | None = typer.Option(
        None,
        "--user-model",
        help="Multi-turn: the endpoint that plays the user ('none': the question model).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Change a project's settings (only the options given)."""
    changes: dict[str, Any] = {
        "question_model": question_model,
        "answer_model": answer_model,
        "max_concurrency": max_concurrency,
        "requests_per_minute": number_or_clear(rpm, "--rpm", int),
        "tokens_per_minute": number_or_clear(tpm, "--tpm", int),
        "max_retries": retries,
        "request_timeout": timeout,
        "max_cost": number_or_clear(max_cost, "--max-cost", float),
        "answer_system_prompt": answer_system_prompt,
        "language": language,
        "topic": topic,
        "description": description,
    }
    multi_turn: dict[str, Any] = {
        "scenario": scenario,
        "user_role": user_role,
        "assistant_role": assistant_role,
        "rounds": rounds,
        "system_prompt": conversation_system_prompt,
        "user_model": user_model,
    }
    if all(value is None for value in (*changes.values(), *multi_turn.values())):
        raise InvalidInputError("nothing to change: give at least one option")
    with state_of(ctx).store.session() as session:
        project = projects.update_project(session, resolve.project_named(session, name), **changes)
        if any(value is not None for value in multi_turn.values()):
            projects.update_multi_turn_setting(session, project, **multi_turn)
        data = projects.project_as_dict(project)
        data["multi_turn"] = projects.multi_turn_setting(session, project.id).as_dict()
    report(data, as_json, f"updated project {name!r}")


@project_app.command("delete")
def project_delete(
    ctx: typer.Context,
    name: str = ProjectArgument,
    yes: bool = YesOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete a project with all its tags, questions, answers and tasks."""
    store = state_of(ctx).store
    with store.session() as session:
        project = resolve.project_named(session, name)
        stats = projects.project_stats(session, project.id)
    confirm_unless(
        yes,
        f"Delete project {name!r} with {stats['tags']} tags, {stats['questions']} questions "
        f"and {stats['answers']} answers?",
    )
    with store.session() as session:
        projects.delete_project(session, resolve.project_named(session, name))
    report({"deleted": name} | stats, as_json, f"deleted project {name!r}")
