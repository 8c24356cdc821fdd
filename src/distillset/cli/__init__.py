"""The `distillset` command line: thin over the service functions.

Each module below owns one command group and registers it on ``app`` when imported.
"""

from __future__ import annotations

# Command modules register their groups on `app` when imported: one line per module, kept
# sorted (`distillset --help` orders the groups itself, see common.COMMAND_ORDER).
from distillset.cli import dataset as _dataset  # noqa: F401
from distillset.cli import demo as _demo  # noqa: F401
from distillset.cli import distill as _distill  # noqa: F401
from distillset.cli import export as _export  # noqa: F401
from distillset.cli import judge as _judge  # noqa: F401
from distillset.cli import models as _models  # noqa: F401
from distillset.cli import models_test as _models_test  # noqa: F401
from distillset.cli import projects as _projects  # noqa: F401
from distillset.cli import prompts as _prompts  # noqa: F401
from distillset.cli import serve as _serve  # noqa: F401
from distillset.cli import tags as _tags  # noqa: F401
from distillset.cli import tasks as _tasks  # noqa: F401
from distillset.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
