"""`distillset serve` on a port in use, and how pages show stored moments."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from distillset.cli import app as cli_app
from distillset.config import Settings
from distillset.domain import TaskKind, TaskStatus
from distillset.projects.lifecycle import create_project
from distillset.store import Store, Task
from distillset.web import create_app
from distillset.web.pages.templating import format_time


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def test_serve_on_a_port_in_use_is_one_error_line(busy_port: int) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--port", str(busy_port)])
    assert result.exit_code == 2
    assert "serving on" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert f"127.0.0.1:{busy_port}" in lines[0] and "already in use" in lines[0]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-11-25T18:06:07.282249+00:00", "2026-11-25 18:06:07 UTC"),
        (datetime(2026, 11, 25, 18, 6, 7, 282249), "2026-11-25 18:06:07 UTC"),  # SQLite: naive UTC
        (
            datetime(2026, 11, 25, 19, 6, 7, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-25 18:06:07 UTC",
        ),
        (None, ""),
    ],
)
def test_moments_read_as_utc_to_the_second(value: datetime | str | None, shown: str) -> None:
    assert format_time(value) == shown


def test_the_task_page_shows_its_creation_time_plainly(settings: Settings, store: Store) -> None:
    with store.session() as session:
        project = create_project(session, "Sports")
        task = Task(
            project_id=project.id,
            kind=TaskKind.ANSWERS.value,
            params={},
            status=TaskStatus.SUCCEEDED.value,
            counters={},
            created_at=datetime(2026, 11, 25, 18, 6, 7, 282249, tzinfo=UTC),
        )
        session.add(task)
        session.flush()
        ids = (project.id, task.id)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        page = client.get(f"/projects/{ids[0]}/tasks/{ids[1]}").text
    assert "Created 2026-11-25 18:06:07 UTC" in page
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", page)
