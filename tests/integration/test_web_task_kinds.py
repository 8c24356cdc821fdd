"""The web shows whatever stages a task's kind declares: a judge task's progress is its
judged records, not tags/questions/answers at 0/0."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from distillset.config import Settings
from distillset.domain import Origin
from distillset.kinds import run_task
from distillset.projects.endpoints import add_endpoint
from distillset.projects.lifecycle import create_project
from distillset.review.filters import RecordFilter
from distillset.review.judge import create_judge_task
from distillset.store import Store
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from distillset.web import create_app
from helpers import add_record

RECORDS = 3


@pytest.fixture
def judged_task(store: Store, settings: Settings, fake_server: FakeModelServer) -> tuple[int, int]:
    """(project id, task id) of a judge task that scored the project's three records."""
    with store.session() as session:
        add_endpoint(session, "judge", model="fake-model", base_url=fake_server.url)
        project = create_project(session, "Sports")
        tag = add_tag_path(session, project, "Running", Origin.MANUAL)
        for index in range(RECORDS):
            add_record(session, project, tag, f"Question {index}?", f"Answer {index}.")
        session.flush()
        task = create_judge_task(session, project, model="judge", record_filter=RecordFilter())
        ids = project.id, task.id
    summary = asyncio.run(run_task(store, settings, ids[1]))
    assert summary["status"] == "succeeded"
    return ids


def _client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url="http://127.0.0.1")


def _stream_end(client: TestClient, task_id: int) -> dict[str, Any]:
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events") as stream:
        lines = [line for line in stream.iter_lines() if line.startswith("data: ")]
    return dict(json.loads(lines[-1][len("data: ") :]))


def test_a_judge_task_page_shows_its_judged_records_and_no_distillation_stage(
    settings: Settings, judged_task: tuple[int, int]
) -> None:
    project_id, task_id = judged_task
    with _client(settings) as client:
        page = client.get(f"/projects/{project_id}/tasks/{task_id}")
    assert page.status_code == 200
    assert "<strong>Judged</strong>" in page.text
    assert f'<span data-stage="judged">{RECORDS} / {RECORDS} done, 0 failed</span>' in page.text
    for stage in ("tags", "questions", "answers"):
        assert f'data-stage="{stage}"' not in page.text
    assert 'data-field="calls"' not in page.text  # a judge task counts no call statistics


def test_a_judge_task_streams_its_declared_stages_and_lists_them_in_its_row(
    settings: Settings, judged_task: tuple[int, int]
) -> None:
    project_id, task_id = judged_task
    with _client(settings) as client:
        end = _stream_end(client, task_id)
        rows = client.get(f"/projects/{project_id}/tasks/rows").text
    # app.js draws the stages the message names, with their counters.
    assert end["stages"] == [{"name": "judged", "label": "Judged"}]
    assert end["counters"]["judged"]["done"] == RECORDS
    row = rows[rows.index(f'<tr data-task="{task_id}">') :]
    assert f"Judged {RECORDS} / {RECORDS}" in row[: row.index("</tr>")]
