"""Task runs in the web server: a shutdown interrupts (never cancels) the running tasks, and
two tasks of one project running at once pay once and store one answer per question."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from distillset.config import Settings
from distillset.runs.runner import INTERRUPTED_NOTE
from distillset.store import Answer, LlmCall, Task, TaskEvent, open_store
from distillset.testing import FakeModelServer
from distillset.web import create_app

API = "/api/v1"


def _client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url="http://127.0.0.1")


def _wire(client: TestClient, fake_server: FakeModelServer) -> int:
    project = client.post(f"{API}/projects", json={"name": "Sports"}).json()
    created = client.post(
        f"{API}/endpoints",
        json={"alias": "fake", "base_url": fake_server.url, "model": "fake-model"},
    )
    assert created.status_code == 201
    client.patch(
        f"{API}/projects/{project['id']}", json={"question_model": "fake", "answer_model": "fake"}
    )
    return int(project["id"])


def _tag_with_questions(client: TestClient, project_id: int, label: str, count: int) -> int:
    base = f"{API}/projects/{project_id}"
    tag = int(client.post(f"{base}/tags", json={"label": label}).json()["id"])
    generated = client.post(f"{base}/tags/{tag}/questions/generate", json={"count": count})
    assert len(generated.json()["created"]) == count
    return tag


def _stream(client: TestClient, task_id: int) -> Iterator[dict[str, Any]]:
    with client.stream("GET", f"{API}/tasks/{task_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                yield json.loads(line[6:])


def _wait_running(client: TestClient, task_id: int) -> None:
    for data in _stream(client, task_id):
        if data["status"] == "running":
            return
    pytest.fail(f"task {task_id} ended before it was seen running")


def _final(client: TestClient, task_id: int) -> dict[str, Any]:
    return list(_stream(client, task_id))[-1]


def test_a_server_shutdown_leaves_its_running_task_interrupted_and_resumable(
    settings: Settings, fake_server: FakeModelServer
) -> None:
    with _client(settings) as client:
        project_id = _wire(client, fake_server)
        _tag_with_questions(client, project_id, "Swimming", 3)
        fake_server.configure(latency=30.0)  # the answers are still on their way at shutdown
        started = client.post(f"{API}/projects/{project_id}/tasks/answers", json={})
        task_id = started.json()["task_id"]
        _wait_running(client, task_id)
    # Leaving the client shut the server down.

    store = open_store(settings)
    try:
        with store.session() as session:
            task = session.get(Task, task_id)
            assert task is not None
            assert task.status == "interrupted" and not task.cancel_requested
            messages = session.scalars(
                select(TaskEvent.message).where(TaskEvent.task_id == task_id)
            ).all()
            assert INTERRUPTED_NOTE in messages and "cancelled" not in messages
    finally:
        store.close()

    fake_server.configure(latency=0.0)
    with _client(settings) as client:
        page = client.get(f"/projects/{project_id}/tasks")
        assert "interrupted" in page.text and f"/tasks/{task_id}/resume" in page.text
        assert "stopped before it finished" in page.text
        assert (
            "not because anyone cancelled it"
            in client.get(f"/projects/{project_id}/tasks/{task_id}").text
        )
        assert client.get(f"{API}/tasks/{task_id}").json()["status"] == "interrupted"
        assert client.post(f"{API}/tasks/{task_id}/resume").status_code == 202
        final = _final(client, task_id)
        assert final["status"] == "succeeded"
        assert final["counters"]["answers"] == {"planned": 3, "done": 3, "failed": 0, "skipped": 0}


def test_an_explicit_cancel_still_ends_as_cancelled(
    settings: Settings, fake_server: FakeModelServer
) -> None:
    with _client(settings) as client:
        project_id = _wire(client, fake_server)
        _tag_with_questions(client, project_id, "Rowing", 2)
        fake_server.configure(latency=30.0)
        task_id = client.post(f"{API}/projects/{project_id}/tasks/answers", json={}).json()[
            "task_id"
        ]
        _wait_running(client, task_id)
        assert client.post(f"/projects/{project_id}/tasks/{task_id}/cancel").status_code == 200
        assert _final(client, task_id)["status"] == "cancelled"


def test_an_auto_and_an_answers_task_at_once_pay_once_and_store_one_answer_each(
    settings: Settings, fake_server: FakeModelServer
) -> None:
    with _client(settings) as client:
        project_id = _wire(client, fake_server)
        for label in ("Ball games", "Athletics"):
            _tag_with_questions(client, project_id, label, 3)
        answer_requests_before = fake_server.stats().by_kind.get("answer", 0)
        # Slow replies keep both tasks in flight together over the same six questions.
        fake_server.configure(latency=1.0)
        base = f"{API}/projects/{project_id}"
        auto = client.post(
            f"{base}/tasks/auto", json={"levels": 1, "tags_per_level": 2, "questions_per_tag": 3}
        ).json()
        answers = client.post(f"{base}/tasks/answers", json={}).json()
        # The tree and its questions exist: both tasks plan to answer the same six questions.
        assert (auto["plan"]["tags"], auto["plan"]["questions"], auto["plan"]["answers"]) == (
            0,
            0,
            6,
        )
        assert answers["plan"]["answers"] == 6
        finals = [_final(client, auto["task_id"]), _final(client, answers["task_id"])]
        assert [final["status"] for final in finals] == ["succeeded", "succeeded"]
        answer_requests = fake_server.stats().by_kind.get("answer", 0) - answer_requests_before

    store = open_store(settings)
    try:
        with store.session() as session:
            tasks = [session.get(Task, final["id"]) for final in finals]
            # Both ran at the same time: each started before the other finished.
            first, second = (task for task in tasks if task is not None)
            assert first.started_at < second.finished_at  # type: ignore[operator]
            assert second.started_at < first.finished_at  # type: ignore[operator]
            per_question = session.execute(
                select(Answer.question_id, func.count()).group_by(Answer.question_id)
            ).all()
            paid = session.scalar(
                select(func.count()).where(LlmCall.purpose == "answer", LlmCall.status == "ok")
            )
    finally:
        store.close()
    assert len(per_question) == 6 and {count for _, count in per_question} == {1}
    assert paid == 6
    assert answer_requests == 6


def _row(fragment: str, task_id: int) -> str:
    start = fragment.index(f'<tr data-task="{task_id}">')
    return fragment[start : fragment.index("</tr>", start)]


def test_the_task_list_polls_a_fragment_of_its_rows_that_follows_the_tasks(
    settings: Settings, fake_server: FakeModelServer
) -> None:
    with _client(settings) as client:
        project_id = _wire(client, fake_server)
        rows_url = f"/projects/{project_id}/tasks/rows"
        page = client.get(f"/projects/{project_id}/tasks").text
        assert f'hx-get="{rows_url}"' in page and 'hx-trigger="every 3s"' in page
        assert "No task yet" in client.get(rows_url).text

        _tag_with_questions(client, project_id, "Diving", 2)
        fake_server.configure(latency=30.0)
        task_id = client.post(f"{API}/projects/{project_id}/tasks/answers", json={}).json()[
            "task_id"
        ]
        _wait_running(client, task_id)
        fragment = client.get(rows_url)
        assert fragment.status_code == 200
        # The fragment is the polling element itself, so a swap keeps the polling going.
        assert f'<tbody id="task-rows" hx-get="{rows_url}"' in fragment.text
        running = _row(fragment.text, task_id)
        assert 'class="status-running">running' in running and "/cancel" in running
        assert "0 / 2" in running

        client.post(f"/projects/{project_id}/tasks/{task_id}/cancel")
        assert _final(client, task_id)["status"] == "cancelled"
        cancelled = _row(client.get(rows_url).text, task_id)
        assert 'class="status-cancelled">cancelled' in cancelled
        assert "/resume" in cancelled and "/cancel" not in cancelled
        assert client.get(f"/projects/{project_id + 1}/tasks/rows").status_code == 404
