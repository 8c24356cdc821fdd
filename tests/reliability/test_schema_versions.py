"""A database written by an older distillset migrates with its data; a newer one is refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from typer.testing import Result

from distillset.config import Settings
from distillset.store import open_store
from distillset.store.db import alembic_config, make_engine


def _revision(settings: Settings) -> str:
    with sqlite3.connect(settings.home / "distillset.sqlite3") as connection:
        return str(connection.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_a_database_at_the_first_schema_migrates_on_open_and_keeps_its_data(
    settings: Settings, cli: Callable[..., Result]
) -> None:
    engine = make_engine(settings.resolved_database_url)
    config = alembic_config(engine)
    command.upgrade(config, "0001")
    head = ScriptDirectory.from_config(config).get_current_head()
    engine.dispose()
    assert head != "0001", "this test needs a migration after 0001"
    with sqlite3.connect(settings.home / "distillset.sqlite3") as connection:
        connection.execute(
            "INSERT INTO projects (name, topic, description, language, max_concurrency,"
            " max_retries, request_timeout, created_at)"
            " VALUES ('Old project', 'Old topic', '', 'en', 8, 3, 120.0, '2025-01-01 00:00:00')"
        )

    shown = cli("project", "show", "Old project", "--json")

    assert shown.exit_code == 0, shown.output
    assert '"topic": "Old topic"' in shown.output
    assert _revision(settings) == head
    store = open_store(settings)
    indexes = {index["name"] for index in inspect(store.engine).get_indexes("answers")}
    store.close()
    assert "ix_answers_project_confirmed" in indexes


def test_a_database_from_a_newer_distillset_is_refused_in_one_line(
    settings: Settings, cli: Callable[..., Result]
) -> None:
    assert cli("project", "create", "Kept").exit_code == 0
    with sqlite3.connect(settings.home / "distillset.sqlite3") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0999_from_the_future'")

    refused = cli("project", "list")

    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        "error: the database schema (0999_from_the_future) is newer than this distillset "
        "knows; upgrade distillset to open it"
    ]
    # Refusing touched nothing: the revision and the data are as they were.
    assert _revision(settings) == "0999_from_the_future"
    with sqlite3.connect(settings.home / "distillset.sqlite3") as connection:
        assert connection.execute("SELECT name FROM projects").fetchall() == [("Kept",)]
