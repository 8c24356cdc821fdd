"""`distillset prompts show|set|reset`: a project's own prompt templates."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from distillset import resolve
from distillset.cli.app import app
from distillset.cli.common import JsonOption, ProjectArgument, print_json, say, state_of
from distillset.domain import InvalidInputError
from distillset.prompts import KINDS, get_prompt, prompt_kind, reset_prompt, set_prompt

prompts_app = typer.Typer(
    name="prompts",
    no_args_is_help=True,
    help=f"Prompt templates of a project (kinds: {', '.join(KINDS)}).",
)
app.add_typer(prompts_app)

MAX_PROMPT_FILE_BYTES = 1_000_000
KindArgument = typer.Argument(..., help=f"One of: {', '.join(KINDS)}.")


@prompts_app.command("show")
def prompts_show(
    ctx: typer.Context,
    name: str = ProjectArgument,
    kind: str = KindArgument,
    as_json: bool = JsonOption,
) -> None:
    """Print the template the project uses (its override, else the language's default)."""
    with state_of(ctx).store.session() as session:
        prompt = get_prompt(session, resolve.project_named(session, name), kind)
    if as_json:
        spec = prompt_kind(kind)
        print_json(
            {
                "kind": kind,
                "overridden": prompt.overridden,
                "required": list(spec.required),
                "optional": list(spec.optional),
                "template": prompt.template,
            }
        )
        return
    sys.stdout.write(prompt.template if prompt.template.endswith("\n") else prompt.template + "\n")


@prompts_app.command("set")
def prompts_set(
    ctx: typer.Context,
    name: str = ProjectArgument,
    kind: str = KindArgument,
    file: Path = typer.Argument(..., help="Template file ('-' reads stdin)."),
) -> None:
    """Override a template; it must keep every required placeholder."""
    prompt_kind(kind)
    if str(file) == "-":
        text = sys.stdin.read()
    else:
        if not file.is_file():
            raise InvalidInputError(f"no such file: {file}")
        if file.stat().st_size > MAX_PROMPT_FILE_BYTES:
            raise InvalidInputError(f"{file} is larger than {MAX_PROMPT_FILE_BYTES} bytes")
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{file} is not UTF-8 text") from exc
    with state_of(ctx).store.session() as session:
        set_prompt(session, resolve.project_named(session, name), kind, text)
    say(f"prompt {kind!r} of {name!r} overridden")


@prompts_app.command("reset")
def prompts_reset(
    ctx: typer.Context,
    name: str = ProjectArgument,
    kind: str = KindArgument,
) -> None:
    """Go back to the default template of the project's language."""
    with state_of(ctx).store.session() as session:
        had = reset_prompt(session, resolve.project_named(session, name), kind)
    say(
        f"prompt {kind!r} of {name!r} "
        + ("reset to the default" if had else "was already the default")
    )
