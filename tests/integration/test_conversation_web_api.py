"""The conversations REST API on SQLite and PostgreSQL: list with filters and a cursor, show,
confirm, score, note, edit a turn, delete, and the judge task (cancel, resume, budget) against
the fake model server over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from distillset.projects.lifecycle import get_project
from distillset.store import Store
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from helpers import add_conversation, make_web_project

API = "/api/v1"
PATHS = ("Running", "Swimming")
pytestmark = pytest.mark.usefixtures("database")


@pytest.fixture
def project_id(client: TestClient, store: Store, fake_server: FakeModelServer) -> int:
    """Four complete conversations (two under Running, two under Swimming), one unfinished."""
    project_id = make_web_project(client, fake_server.url)
    with store.session() as session:
        project = get_project(session, project_id)
        project.max_retries = 0
        running, swimming = (add_tag_path(session, project, path) for path in PATHS)
        for index in range(4):
            tag = running if index < 2 else swimming
            turns = [(f"Question {index}?", None), (f"Answer {index}.", "Because."),
                     (f"Why {index}?", None), (f"So {index}.", None)]  # fmt: skip
            add_conversation(session, project, tag, turns)
        add_conversation(session, project, tag, [("Open?", None)], complete=False)
    return project_id


def _events(client: TestClient, task_id: int) -> list[dict[str, Any]]:
    """The task's SSE stream read to its end (the task's states)."""
    with client.stream("GET", f"{API}/tasks/{task_id}/events") as stream:
        return [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]


def test_list_show_review_edit_and_delete(client: TestClient, project_id: int) -> None:
    base = f"{API}/projects/{project_id}/conversations"
    listed = client.get(base, params={"limit": 2}).json()
    first, second = (talk["id"] for talk in listed["conversations"])
    assert listed["next_cursor"] == second
    rest = client.get(base, params={"cursor": second}).json()
    assert len(rest["conversations"]) == 3 and rest["next_cursor"] is None
    assert len(client.get(base, params={"complete": True}).json()["conversations"]) == 4
    tags = client.get(f"{API}/projects/{project_id}/tags").json()
    running = next(tag["id"] for tag in tags["items"] if tag["label"] == "Running")
    by_tag = client.get(base, params={"tag_id": running}).json()["conversations"]
    assert [talk["id"] for talk in by_tag] == [first, second]

    assert client.post(f"{base}/confirm", json={"ids": [first]}).json() == {"matched": 1}
    changed = client.patch(
        f"{base}/{first}", json={"score": 4.5, "score_reason": "clear", "note": "look"}
    ).json()
    assert (changed["confirmed"], changed["score"], changed["score_reason"], changed["note"]) == (
        True,
        4.5,
        "clear",
        "look",
    )
    assert client.get(base, params={"min_score": 4}).json()["conversations"][0]["id"] == first
    cleared = client.patch(f"{base}/{first}", json={"score": None, "note": ""}).json()
    assert (cleared["score"], cleared["note"]) == (None, None)

    edited = client.patch(f"{base}/{first}/turns/1", json={"content": "Better.", "reasoning": None})
    assert edited.status_code == 200
    assert (edited.json()["turns"][1]["content"], edited.json()["turns"][1]["reasoning"]) == (
        "Better.",
        None,
    )
    assert client.get(f"{base}/{first}").json()["turns"][1]["content"] == "Better."
    # A follow-up that says the question again is flagged (here, and on the page).
    assert client.get(f"{base}/{first}").json()["flags"] == []
    repeated = client.patch(f"{base}/{first}/turns/2", json={"content": "question 0"}).json()
    assert repeated["flags"] == [
        {"kind": "repeated_follow_up", "position": 2, "detail": "turn 2 repeats turn 0"}
    ]
    page = client.get(f"/projects/{project_id}/conversations").text
    assert "repeated follow-up</span> turn 2 repeats turn 0" in page

    refusals = [
        (client.patch(f"{base}/{first}/turns/1", json={"content": " "}), 422, "cannot be empty"),
        (client.patch(f"{base}/{first}/turns/2", json={"reasoning": "x"}), 422, "teacher's"),
        (client.patch(f"{base}/{first}/turns/1", json={}), 422, "nothing to change"),
        (client.patch(f"{base}/{first}/turns/9", json={"content": "x"}), 404, "no turn 9"),
        (client.patch(f"{base}/{first}", json={"score": 7}), 422, ""),
        (client.get(f"{base}/999999"), 404, "no conversation"),
        (client.post(f"{base}/confirm", json={"ids": [first, 999999]}), 404, "999999"),
        (client.get(base, params={"tag_id": 999999}), 404, ""),
    ]
    for response, status, words in refusals:
        assert response.status_code == status, response.text
        assert words in response.text
    assert client.get(f"{base}/{first}").json()["confirmed"] is True  # a refusal changes nothing

    assert client.delete(f"{base}/{second}").json() == {"deleted": 1}
    assert client.get(f"{base}/{second}").status_code == 404
    assert client.delete(f"{base}/{second}").status_code == 404
    assert client.get(f"{API}/projects/999999/conversations").status_code == 404


def test_judge_task_runs_is_cancelled_and_resumed(
    client: TestClient, project_id: int, fake_server: FakeModelServer
) -> None:
    base = f"{API}/projects/{project_id}/conversations"
    fake_server.configure(latency=10.0)  # slow verdicts keep it running while it is cancelled
    started = client.post(f"{base}/judge", json={})
    assert started.status_code == 202, started.text
    task = started.json()
    assert task["kind"] == "judge_conversations"
    assert task["counters"]["judged"]["planned"] == 4
    assert client.post(f"{API}/tasks/{task['id']}/cancel").status_code == 200
    assert _events(client, task["id"])[-1]["status"] == "cancelled"
    fake_server.configure(latency=0.0)
    assert client.post(f"{API}/tasks/{task['id']}/resume").status_code == 202
    end = _events(client, task["id"])[-1]
    assert end["status"] == "succeeded"
    assert end["counters"]["judged"] == {"planned": 4, "done": 4, "failed": 0, "skipped": 0}
    talks = client.get(base, params={"complete": True}).json()["conversations"]
    assert all(talk["score"] is not None for talk in talks)

    # Given ids are scored again; a filter on scores needs rescore; a budget must be above 0.
    one = client.post(f"{base}/judge", json={"ids": [talks[0]["id"]], "fresh": True}).json()
    assert _events(client, one["id"])[-1]["counters"]["judged"]["done"] == 1
    refused = client.post(f"{base}/judge", json={"min_score": 1})
    assert refused.status_code == 422 and "rescore" in refused.json()["detail"]
    assert client.post(f"{base}/judge", json={"max_cost": 0}).status_code == 422
    assert client.post(f"{base}/judge", json={"model": "nope"}).status_code == 404
    rescored = client.post(f"{base}/judge", json={"rescore": True, "min_score": 0}).json()
    assert _events(client, rescored["id"])[-1]["counters"]["judged"]["done"] == 4


def test_judge_task_pauses_at_its_budget(
    client: TestClient, project_id: int, fake_server: FakeModelServer
) -> None:
    prices = {"price_input_per_m": 2000, "price_output_per_m": 8000}
    assert client.patch(f"{API}/endpoints/fake", json=prices).status_code == 200
    base = f"{API}/projects/{project_id}/conversations"
    task = client.post(f"{base}/judge", json={"max_cost": 1}).json()
    # A paused task waits for a higher budget: its progress stream ends there.
    end = _events(client, task["id"])[-1]
    assert end["status"] == "paused" and end["counters"]["judged"]["done"] < 4


def test_the_conversations_page_starts_the_judge_task(
    client: TestClient, project_id: int, fake_server: FakeModelServer
) -> None:
    page = client.get(f"/projects/{project_id}/conversations")
    assert f'action="/projects/{project_id}/conversations/judge"' in page.text
    started = client.post(
        f"/projects/{project_id}/conversations/judge",
        data={"model": "fake"},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    task_id = int(started.headers["location"].rsplit("/", 1)[1])
    end = _events(client, task_id)[-1]
    assert (end["kind"], end["status"]) == ("judge_conversations", "succeeded")
    assert end["counters"]["judged"]["done"] == 4
    refused = client.post(f"/projects/{project_id}/conversations/judge", data={"model": "nope"})
    assert refused.status_code == 404
