"""Shared fixtures: every test gets its own DISTILLSET_HOME and never sees the user's data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from distillset.cli import app
from distillset.config import Settings, load_settings
from distillset.store import Store, open_store
from distillset.testing import FakeModelServer
from distillset.web import create_app
from helpers import make_cli_project, make_project

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


# The PostgreSQL server the project's machines run (DESIGN.md §7); tests make their own database.
PG_SERVER = os.environ.get("DISTILLSET_TEST_PG", "host=127.0.0.1 port=5432 user=postgres")


def _pg_admin() -> object:
    """An autocommit connection to the server's `postgres` database, or a skip (a failure in CI)."""
    try:
        import psycopg
    except ModuleNotFoundError:
        reason = "psycopg is not installed (pip install -e '.[postgres]')"
    else:
        try:
            return psycopg.connect(
                f"{PG_SERVER} dbname=postgres", autocommit=True, connect_timeout=5
            )
        except psycopg.OperationalError as exc:
            reason = f"no PostgreSQL server at {PG_SERVER}: {str(exc).strip()}"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def postgres_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh PostgreSQL database for this test, in DISTILLSET_DATABASE_URL; dropped after."""
    admin = _pg_admin()
    name = f"distillset_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    params = dict(part.split("=", 1) for part in PG_SERVER.split())
    url = (
        f"postgresql+psycopg://{params.get('user', 'postgres')}@"
        f"{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{name}"
    )
    monkeypatch.setenv("DISTILLSET_DATABASE_URL", url)
    try:
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        admin.close()  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    """Run the test on both databases: the embedded SQLite default, then PostgreSQL."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres_url")
    return str(request.param)


@pytest.fixture
def settings(distillset_home: Path, request: pytest.FixtureRequest) -> Settings:
    # A test that asks for `database` (or `postgres_url`) gets settings that point at it.
    for name in ("database", "postgres_url"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
    return load_settings(home=distillset_home)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings)
    yield opened
    opened.close()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The web app (REST API and pages) in-process, on the test's settings."""
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run `distillset ARGS...` in-process through Typer's runner; stdout and stderr apart."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input)

    return invoke


# Factories: a module states what differs (name, limits) and gets a project wired to the fake
# server; the database fixtures above still decide where it lives (request `database` first).
@pytest.fixture
def project_factory(store: Store, fake_server: FakeModelServer) -> Callable[..., int]:
    """``project_factory(name, **settings)``: helpers.make_project on this test's store."""

    def make(name: str, **settings: Any) -> int:
        return make_project(store, fake_server.url, name, **settings)

    return make


@pytest.fixture
def cli_project_factory(
    cli: Callable[..., Result], fake_server: FakeModelServer
) -> Callable[[str], str]:
    """``cli_project_factory(name)``: helpers.make_cli_project through this test's CLI."""
    return lambda name: make_cli_project(cli, fake_server.url, name)
