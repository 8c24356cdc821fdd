"""The `distillset` command line: thin over the service functions.

Each module below owns one command group and registers it on ``app`` when imported.
"""

from __future__ import annotations

from distillset.cli.app import app

# Command modules (import order is the order of `distillset --help`).

__all__ = ["app", "main"]


def main() -> None:
    app()
