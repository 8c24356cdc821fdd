"""The root Typer app; command modules add their groups and commands to it."""

from __future__ import annotations

import typer

from distillset.cli.common import CliState, DistillsetGroup

app = typer.Typer(
    cls=DistillsetGroup,
    no_args_is_help=True,
    add_completion=False,
    help="Build distilled datasets from a teacher model: tags, questions, reasoned answers.",
)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of unexpected errors."),
) -> None:
    ctx.obj = CliState(debug=debug)
