"""A read-only database and a full disk: one clear error line, no corruption, data intact.

Tests run as root in CI, where file modes do not stop writes, so the database is made
read-only with SQLite's `query_only` and "full" with `max_page_count` on every connection
the application opens.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from reliability_support import NAME, make_project
from typer.testing import Result

from distillset.config import Settings
from distillset.store import db as store_db
from distillset.store import open_store
from distillset.testing import FakeModelServer
from distillset.web import create_app

ORIGINAL_PRAGMAS = store_db._set_sqlite_pragmas


def _limit_connections(monkeypatch: pytest.MonkeyPatch, statement: Callable[[Any], str]) -> None:
    """Run an extra PRAGMA on every new connection (the engine registers this on open)."""

    def pragmas(dbapi_connection: Any, record: Any) -> None:
        ORIGINAL_PRAGMAS(dbapi_connection, record)
        cursor = dbapi_connection.cursor()
        cursor.execute(statement(cursor))
        cursor.close()

    monkeypatch.setattr(store_db, "_set_sqlite_pragmas", pragmas)


def _database(settings: Settings) -> Path:
    return settings.home / "distillset.sqlite3"


def _integrity_and_labels(database: Path) -> tuple[str, list[str]]:
    with sqlite3.connect(database) as connection:
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        labels = [row[0] for row in connection.execute("SELECT label FROM tags ORDER BY id")]
    return integrity, labels


def _one_clear_line(result: Result, words: str) -> None:
    assert result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0], result.output
    assert "Traceback" not in result.output and "[SQL:" not in result.output, result.output


def test_a_read_only_database_refuses_writes_clearly_and_still_reads(
    cli: Callable[..., Result], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("project", "create", NAME).exit_code == 0
    assert cli("tags", "add", NAME, "--path", "Athletics > Sprinting").exit_code == 0

    _limit_connections(monkeypatch, lambda _cursor: "PRAGMA query_only=ON")
    refused = cli("tags", "add", NAME, "--path", "Athletics > Hurdles")
    shown = cli("tags", "tree", NAME, "--json")

    _one_clear_line(refused, "readonly database")
    assert shown.exit_code == 0 and "Sprinting" in shown.output
    monkeypatch.undo()
    assert _integrity_and_labels(_database(settings)) == ("ok", ["Athletics", "Sprinting"])


def test_a_full_disk_stops_the_run_clearly_and_the_data_survives(
    cli: Callable[..., Result],
    settings: Settings,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = open_store(settings)
    make_project(store, fake_server.url, max_concurrency=4)
    store.close()
    assert cli("tags", "add", NAME, "--path", "Kept before the disk filled").exit_code == 0
    monkeypatch.setenv("DISTILLSET_HEARTBEAT_STALE_SECONDS", "0.2")

    # A few pages of room: the run gets going, then a commit finds the disk full.
    def almost_full(cursor: Any) -> str:
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        return f"PRAGMA max_page_count={pages + 4}"

    _limit_connections(monkeypatch, almost_full)
    full = cli("auto", NAME, "--levels", "1", "--tags", "4", "--questions", "3")

    _one_clear_line(full, "database or disk is full")
    monkeypatch.setattr(store_db, "_set_sqlite_pragmas", ORIGINAL_PRAGMAS)
    integrity, labels = _integrity_and_labels(_database(settings))
    assert integrity == "ok"
    assert labels[0] == "Kept before the disk filled"

    # With room again, the same job runs to its end (the stuck task is seen as interrupted).
    listed = json.loads(cli("tasks", "list", NAME, "--json").output)
    assert listed[0]["status"] in ("interrupted", "failed"), listed
    resumed = cli("auto", NAME, "--levels", "1", "--tags", "4", "--questions", "3")
    assert resumed.exit_code == 0, resumed.output
    integrity, labels = _integrity_and_labels(_database(settings))
    assert integrity == "ok" and len(labels) == 4


def test_the_web_api_answers_a_read_only_database_with_a_clear_503(
    cli: Callable[..., Result], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("project", "create", NAME).exit_code == 0
    _limit_connections(monkeypatch, lambda _cursor: "PRAGMA query_only=ON")

    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        refused = client.post("/api/v1/projects/1/tags", json={"label": "Hurdles"})
        listed = client.get("/api/v1/projects")

    assert refused.status_code == 503
    assert refused.json() == {"detail": "the database failed: attempt to write a readonly database"}
    assert listed.status_code == 200 and listed.json()[0]["name"] == NAME
