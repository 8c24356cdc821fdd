"""Shared fixtures: every test gets its own DISTILLSET_HOME and never sees the user's data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from distillset.cli import app
from distillset.config import Settings, load_settings
from distillset.store import Store, open_store

pytest_plugins = ["distillset.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def distillset_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DISTILLSET_HOME", str(home))
    for name in ("DISTILLSET_DATABASE_URL", "DISTILLSET_KEYS_FILE", "DISTILLSET_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return home


@pytest.fixture
def settings(distillset_home: Path) -> Settings:
    return load_settings(home=distillset_home)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings)
    yield opened
    opened.close()


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run `distillset ARGS...` in-process through Typer's runner; stdout and stderr apart."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input)

    return invoke
