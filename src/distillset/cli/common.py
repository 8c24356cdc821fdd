"""What every CLI command shares: the open store, JSON output, clear errors."""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from distillset.config import Settings, load_settings
from distillset.domain import DistillsetError
from distillset.store import Store, open_store

console = Console()
err_console = Console(stderr=True)

USAGE_ERROR = 2


class UserError(click.ClickException):
    """A mistake the user can fix: one clear line, exit code 2, no traceback."""

    exit_code = USAGE_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class UnexpectedError(click.ClickException):
    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


@dataclass
class CliState:
    debug: bool = False
    _settings: Settings | None = None
    _store: Store | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class DistillsetGroup(TyperGroup):
    """Root command group: turns exceptions into clear messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DistillsetError as exc:
            raise UserError(str(exc)) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            state = ctx.obj if isinstance(ctx.obj, CliState) else None
            if state is not None and state.debug:
                traceback.print_exc(file=sys.stderr)
                hint = ""
            else:
                hint = " (run with --debug for the traceback)"
            raise UnexpectedError(f"{type(exc).__name__}: {exc}{hint}") from exc
        finally:
            if isinstance(ctx.obj, CliState):
                ctx.obj.close()


def state_of(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def print_json(data: Any) -> None:
    """Machine-readable output on stdout, one document, UTF-8 kept readable."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")
