"""What every CLI command shares: the open store, JSON output, clear errors."""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperOption

from distillset.cli.lazy import LAZY_COMMANDS, LazyGroup
from distillset.domain import (
    CLEAR,
    Clear,
    DistillsetError,
    InvalidInputError,
    unstorable_text_message,
)

# The settings and the store (SQLAlchemy, Alembic) are imported when a command first needs
# them, so that `--help` stays fast.
if TYPE_CHECKING:
    from distillset.config import Settings
    from distillset.store import Store

console = Console()
err_console = Console(stderr=True)

USAGE_ERROR = 2
# Output cut short by a reader that closed the pipe (`... | head`): exit quietly with the
# status a shell gives a command killed by SIGPIPE (128 + 13), as `seq 1e9 | head` does, so
# `set -o pipefail` still sees that the output was not written in full.
EXIT_BROKEN_PIPE = 141


def quit_on_broken_pipe() -> NoReturn:
    """Leave quietly after the reader of stdout went away: stdout goes to /dev/null first, so
    the flush at interpreter exit cannot fail again and print 'Exception ignored'."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is not a file descriptor (a test runner's buffer): nothing to flush
    raise typer.Exit(EXIT_BROKEN_PIPE)


# Characters that steer a terminal instead of showing: C0 and C1 controls and DEL (ESC starts
# sequences that retitle the window or clear the screen), and the bidi embeddings, overrides
# and isolates that reorder the rest of the line. Tab and newline are kept: they are text.
_STEERING = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_STEERING_IN_A_LINE = re.compile(f"{_STEERING.pattern}|[\t\n]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, single_line: bool = False) -> str:
    """Data as the CLI prints it (labels, names, model text, error messages), on a terminal or
    in a pipe: every steering character written as its escape (`\\x1b`, `\\u202e`), so what
    is shown is what is stored. ``single_line`` escapes tabs and newlines too."""
    steering = _STEERING_IN_A_LINE if single_line else _STEERING
    return text if text.isascii() and text.isprintable() else steering.sub(_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def fail(message: str, exit_code: int = USAGE_ERROR) -> NoReturn:
    """Print one clear `error: ...` line on stderr and exit (no traceback, no panel)."""
    typer.echo(f"error: {printable(message)}", err=True)
    raise typer.Exit(exit_code)


@dataclass
class CliState:
    debug: bool = False
    _settings: Settings | None = None
    _store: Store | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from distillset.config import load_settings

            self._settings = load_settings()
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            from distillset.store import open_store

            self._store = open_store(self.settings)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


@contextmanager
def _flags_without_type() -> Iterator[None]:
    """Typer's Rich help prints a type beside every option, flags included (`--json <bool>`,
    `--help <bool>`), as if a flag took a value; its plain help leaves flags bare. While the
    command line runs, flags show no type (other options keep theirs)."""
    shown_type = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown_type(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    try:
        yield
    finally:
        TyperOption.display_type_rich = shown_type  # type: ignore[method-assign]


class DistillsetGroup(LazyGroup):
    """Root command group: turns exceptions into clear messages and exit codes. Its commands
    are imported on first use and listed in the order of the work (see cli/lazy.py)."""

    is_root = True

    def list_commands(self, ctx: Any) -> list[str]:
        rank = {name: index for index, name in enumerate(LAZY_COMMANDS[()])}
        return sorted(super().list_commands(ctx), key=lambda name: rank.get(name, len(rank)))

    def main(self, *args: Any, **kwargs: Any) -> Any:
        with _flags_without_type():
            return super().main(*args, **kwargs)

    # `Any`: the Context class moved between Typer releases (click's, then Typer's own).
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DistillsetError as exc:
            fail(str(exc))
        except typer.TyperException as exc:
            # Bad usage below the root (a bad number, a missing option, an unknown command):
            # one line and exit 2 like any user mistake. "No arguments" still prints help.
            if exc.exit_code != USAGE_ERROR or type(exc).__name__ == "NoArgsIsHelpError":
                raise
            where = getattr(getattr(exc, "ctx", None), "command_path", None)
            fail(f"{exc.format_message()}" + (f" (see '{where} --help')" if where else ""))
        except (typer.Exit, typer.Abort, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            quit_on_broken_pipe()
        except UnicodeEncodeError as exc:
            # Invalid UTF-8 bytes in an argument arrive as lone surrogates (PEP 383).
            fail(unstorable_text_message(exc))
        except Exception as exc:
            _database_failure(exc, ctx)
            state = ctx.obj if isinstance(ctx.obj, CliState) else None
            if state is not None and state.debug:
                traceback.print_exc(file=sys.stderr)
                hint = ""
            else:
                hint = " (run with --debug for the traceback)"
            fail(f"unexpected {type(exc).__name__}: {exc}{hint}", exit_code=1)
        finally:
            if isinstance(ctx.obj, CliState):
                ctx.obj.close()


def _database_failure(exc: Exception, ctx: Any) -> None:
    """Fail with the reason when ``exc`` is the database's; return otherwise."""
    if "sqlalchemy.exc" not in sys.modules:
        return  # no database was opened (and SQLAlchemy is slow to import)
    from sqlalchemy.exc import DataError, OperationalError

    if isinstance(exc, DataError):
        # A value the database refused that no check caught first: its reason (one
        # line), never the SQL and its parameters.
        reason = str(exc.orig).strip().splitlines() or ["invalid"]
        fail(f"the database refused a value: {reason[0]}")
    if isinstance(exc, OperationalError):
        # A read-only, full or locked database: the driver's reason, not the SQL and data.
        if isinstance(ctx.obj, CliState) and ctx.obj.debug:
            traceback.print_exc(file=sys.stderr)
        fail(f"the database failed: {exc.orig}", exit_code=1)


def state_of(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def print_json(data: Any) -> None:
    """Machine-readable output on stdout, one document, UTF-8 kept readable. JSON escapes C0
    controls itself; DEL, C1 controls and bidi overrides get `\\uXXXX` escapes too (the same
    data, and still valid JSON: they can only occur inside strings)."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write(_STEERING.sub(_json_escape, text) + "\n")


# Parameters spelled the same way by every command that takes them.
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")
ProjectArgument = typer.Argument(..., help="Project name.")
YesOption = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
MaxCostOption = typer.Option(
    None,
    "--max-cost",
    help="Budget: pause before a call that could take the task's cost (failed calls "
    "included) above this, in the endpoints' price unit; resume with a higher one.",
)
QueueOption = typer.Option(
    False,
    "--queue",
    help="Leave the task to the workers (`distillset worker`) instead of running it here.",
)
NoCacheOption = typer.Option(
    False,
    "--no-cache",
    help="Send every model request for a fresh sample instead of answering a request seen "
    "before from the stored response (kept by `tasks resume`).",
)


def number_or_clear(
    text: str | None, option: str, kind: type[int] | type[float]
) -> int | float | Clear | None:
    """The value of an option that takes a number or `none` (remove the setting): the number,
    CLEAR, or None when the option was not given."""
    if text is None:
        return None
    if text.strip().lower() == CLEAR.value:
        return CLEAR
    try:
        return kind(text)
    except ValueError:
        expected = "a whole number" if kind is int else "a number"
        raise InvalidInputError(f"{option} takes {expected} or 'none', got {text!r}") from None


def report(data: Any, as_json: bool, message: str) -> None:
    """The outcome of a change: ``data`` as JSON for scripts, else one line for people."""
    if as_json:
        print_json(data)
    else:
        say(message)


def show(data: Mapping[str, Any], as_json: bool) -> None:
    """One object: JSON for scripts, `name: value` lines for people."""
    if as_json:
        print_json(data)
    else:
        print_fields(data)


def confirm_unless(yes: bool, question: str) -> None:
    """Ask before a destructive change unless --yes was given; "no" aborts (exit 1)."""
    if not yes:
        typer.confirm(printable(question), abort=True)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict | list):
        return printable(json.dumps(value, ensure_ascii=False))
    return printable(str(value))


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A Rich table on a terminal; tab-separated lines with a header line otherwise."""
    cells = [[_cell(value) for value in row] for row in rows]
    if console.is_terminal:
        table = Table(*columns)
        for row in cells:
            # Text() keeps user data such as "[bold]" from being read as Rich markup.
            table.add_row(*(Text(cell) for cell in row))
        console.print(table)
        return
    sys.stdout.write("\t".join(columns) + "\n")
    for row in cells:
        sys.stdout.write("\t".join(cell.replace("\t", " ") for cell in row) + "\n")


def print_fields(fields: Mapping[str, Any]) -> None:
    """One record as `name: value` lines (a two-column table on a terminal)."""
    if console.is_terminal:
        table = Table(show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column()
        for name, value in fields.items():
            table.add_row(name, Text(_cell(value)))
        console.print(table)
        return
    for name, value in fields.items():
        sys.stdout.write(f"{name}: {_cell(value)}\n")


def say(message: str) -> None:
    """A human-facing confirmation line (data in it escaped: see printable)."""
    typer.echo(printable(message))
