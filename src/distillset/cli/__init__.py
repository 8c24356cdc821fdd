"""The `distillset` command line: thin over the service functions.

Each command module registers its commands on ``app`` when imported; `cli/lazy.py` says which
module holds which command and imports it only when that command runs, so that `--help` and
the quick commands do not load the web app, the gateway or the export formats.
"""

from __future__ import annotations

from distillset.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
