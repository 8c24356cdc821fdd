"""A task's own budget and batch answers from the pages and the REST API: the budget typed in
a form reaches the task as `--max-cost` does, a bad one is refused beside the form with nothing
started, and batches are refused for an answer endpoint not set up for them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from distillset.testing import FakeModelServer
from helpers import web_project_with_fake_models

HX = {"HX-Request": "true"}
API = "/api/v1"
RULE = "the budget (max cost) must be a number above 0"


@pytest.fixture
def project_id(database: str, client: TestClient, fake_server: FakeModelServer) -> int:
    """A project on SQLite and on PostgreSQL, its models the fake server's, a tag with two
    unanswered questions."""
    project = web_project_with_fake_models(client, fake_server.url)
    tag = client.post(f"{API}/projects/{project}/tags", json={"label": "Golf"}).json()
    client.post(f"{API}/projects/{project}/tags/{tag['id']}/questions/generate", json={"count": 2})
    return project


def _finished(client: TestClient, task_id: int) -> dict[str, object]:
    with client.stream("GET", f"{API}/tasks/{task_id}/events") as stream:
        last = [line for line in stream.iter_lines() if line.startswith("data: ")][-1]
    data: dict[str, object] = json.loads(last[6:])
    return data


def _task_ids(client: TestClient, project_id: int) -> set[int]:
    return {task["id"] for task in client.get(f"{API}/projects/{project_id}/tasks").json()}


def _tag(client: TestClient, project_id: int) -> int:
    return int(client.get(f"{API}/projects/{project_id}/tags").json()["items"][0]["id"])


def _answered(client: TestClient, project_id: int) -> None:
    started = client.post(f"{API}/projects/{project_id}/tasks/answers", json={}).json()
    assert _finished(client, started["task_id"])["status"] == "succeeded"


def _budget_of(client: TestClient, task_id: int) -> object:
    return client.get(f"{API}/tasks/{task_id}").json()["params"].get("max_cost")


def _started(reply: Any) -> int:
    """The id of the task a page started (it sends the browser to the task's page)."""
    return int(reply.headers["HX-Redirect"].rsplit("/", 1)[1])


def test_the_forms_that_start_paid_tasks_give_them_the_budget_typed(
    client: TestClient, project_id: int
) -> None:
    base = f"/projects/{project_id}"
    tag = _tag(client, project_id)
    panel = client.post(
        f"{base}/distill/tags/{tag}/answer-all", data={"max_cost": "0.5"}, headers=HX
    )
    marker = 'data-task-stream="/api/v1/tasks/'
    answers = int(panel.text.split(marker, 1)[1].split("/", 1)[0])
    assert _budget_of(client, answers) == 0.5
    assert _finished(client, answers)["status"] == "succeeded"
    form = {"levels": "1", "tags_per_level": "1", "questions_per_tag": "1", "max_cost": "3"}
    auto = client.post(f"{base}/distill/auto/start", data=form, headers=HX)
    assert _budget_of(client, _started(auto)) == 3.0
    _finished(client, _started(auto))
    for path, data in (
        ("dataset/judge", {"rescore": "true"}),
        ("dataset/select", {"by": "judge"}),
        ("dataset/rate", {}),
        ("dataset/score-tokens", {"endpoint": "fake", "scope": "all"}),
    ):
        reply = client.post(f"{base}/{path}", data={**data, "max_cost": "1.25"}, headers=HX)
        assert reply.status_code == 200, (path, reply.text)
        task_id = _started(reply)
        assert _budget_of(client, task_id) == 1.25, path
        _finished(client, task_id)
    # Generation awaited on the page (sub-tags, questions) takes one too.
    client.post(f"{base}/distill/generate-tags", data={"count": "1", "max_cost": "0.9"}, headers=HX)
    data = {"count": "1", "max_cost": "0.8"}
    client.post(f"{base}/distill/tags/{tag}/generate-questions", data=data, headers=HX)
    tasks = client.get(f"{API}/projects/{project_id}/tasks").json()
    newest = {task["kind"]: task for task in reversed(tasks)}  # the newest of each kind last
    assert newest["tags"]["params"]["max_cost"] == 0.9, newest["tags"]["params"]
    assert newest["questions"]["params"]["max_cost"] == 0.8, newest["questions"]["params"]
    # Empty: the task takes the project's budget (none stored on the task itself).
    unset = client.post(f"{base}/dataset/rate", data={"rerate": "true", "max_cost": ""}, headers=HX)
    assert _budget_of(client, _started(unset)) is None


def test_a_bad_budget_is_refused_beside_the_form_and_starts_nothing(
    client: TestClient, project_id: int
) -> None:
    base = f"/projects/{project_id}"
    tag = _tag(client, project_id)
    before = _task_ids(client, project_id)
    forms = [
        (f"distill/tags/{tag}/answer-all", {}),
        ("questions/answer-unanswered", {"tag": ""}),
        ("distill/auto/plan", {"levels": "1"}),
        ("distill/auto/start", {"levels": "1"}),
        ("dataset/judge", {}),
        ("dataset/select", {"by": "judge"}),
        ("dataset/rate", {}),
        ("dataset/score-tokens", {"endpoint": "fake"}),
        ("conversations/judge", {}),
        ("distill/generate-tags", {"count": "1"}),
        (f"distill/tags/{tag}/generate-questions", {"count": "1"}),
    ]
    for path, data in forms:
        for bad in ("0", "-1", "abc", "nan", "inf"):
            reply = client.post(f"{base}/{path}", data={**data, "max_cost": bad}, headers=HX)
            assert reply.status_code == 422, (path, bad, reply.text)
            assert RULE in reply.text and "max_cost" in reply.text, (path, reply.text)
            # The reply goes beside the form (app.js), which keeps what was typed.
            assert reply.headers["HX-Retarget"] == "#messages"
    upload = {"file": ("import.jsonl", b'{"instruction": "Q?", "output": "A."}\n')}
    imported = client.post(
        f"{base}/dataset/import",
        files=upload,
        data={"auto_tag": "true", "max_cost": "0"},
        headers=HX,
    )
    assert imported.status_code == 422 and RULE in imported.text
    assert _task_ids(client, project_id) == before
    assert len(client.get(f"{API}/projects/{project_id}/records").json()["records"]) == 0


def test_the_api_takes_a_budget_and_refuses_a_bad_one(client: TestClient, project_id: int) -> None:
    base = f"{API}/projects/{project_id}"
    for bad in (0, -2, "abc", True):
        refused = client.post(f"{base}/tasks/answers", json={"max_cost": bad})
        assert refused.status_code == 422, (bad, refused.text)
        assert RULE in json.dumps(refused.json())
    tags = client.post(f"{base}/tags/generate", json={"count": 1, "max_cost": 0})
    assert tags.status_code == 422 and RULE in json.dumps(tags.json())
    started = client.post(f"{base}/tasks/answers", json={"max_cost": 2})
    assert started.status_code == 202, started.text
    assert _budget_of(client, started.json()["task_id"]) == 2.0
    _finished(client, started.json()["task_id"])
    rated = client.post(f"{base}/tasks/rate", json={"max_cost": 0.75}).json()
    assert _budget_of(client, rated["id"]) == 0.75
    _finished(client, rated["id"])
    refine = client.post(
        f"{base}/records/refine", json={"advice": "Shorter.", "all": True, "max_cost": 4}
    )
    assert refine.status_code == 202 and _budget_of(client, refine.json()["id"]) == 4.0
    _finished(client, refine.json()["id"])


def test_a_task_paused_at_its_budget_resumes_with_a_higher_one(
    client: TestClient, project_id: int
) -> None:
    priced = client.post(
        f"/projects/{project_id}/endpoints/fake",
        data={"price_input_per_m": "1000", "price_output_per_m": "1000"},
        headers=HX,
    )
    assert priced.status_code == 200, priced.text
    tag = _tag(client, project_id)
    panel = client.post(
        f"/projects/{project_id}/distill/tags/{tag}/answer-all",
        data={"max_cost": "0.0001"},
        headers=HX,
    )
    task_id = int(panel.text.split('data-task-stream="/api/v1/tasks/', 1)[1].split("/", 1)[0])
    paused = _finished(client, task_id)
    assert paused["status"] == "paused" and "budget reached" in str(paused["last_error"])
    page = client.get(f"/projects/{project_id}/tasks/{task_id}").text
    assert 'id="resume-form"' in page and 'name="max_cost"' in page
    refused = client.post(
        f"/projects/{project_id}/tasks/{task_id}/resume", data={"max_cost": "-5"}, headers=HX
    )
    assert refused.status_code == 422 and RULE in refused.text
    resumed = client.post(
        f"/projects/{project_id}/tasks/{task_id}/resume", data={"max_cost": "100"}, headers=HX
    )
    assert resumed.status_code == 200, resumed.text
    assert _finished(client, task_id)["status"] == "succeeded"
    assert _budget_of(client, task_id) == 100.0
    # The REST call takes a new budget as well.
    again = client.post(f"{API}/tasks/{task_id}/resume", json={"max_cost": 0})
    assert again.status_code == 422


def test_batch_answers_are_refused_for_an_endpoint_not_set_up_for_them(
    client: TestClient, project_id: int
) -> None:
    base = f"/projects/{project_id}"
    tag = _tag(client, project_id)
    before = _task_ids(client, project_id)
    for path, data in (
        (f"distill/tags/{tag}/answer-all", {"batch": "true"}),
        ("questions/answer-unanswered", {"tag": "", "batch": "true"}),
        ("distill/auto/plan", {"levels": "1", "batch_answers": "true"}),
        ("distill/auto/start", {"levels": "1", "batch_answers": "true"}),
    ):
        refused = client.post(f"{base}/{path}", data=data, headers=HX)
        assert refused.status_code == 422, (path, refused.text)
        assert "is not set up for the batch interface" in refused.text
        assert "settings#batch_discount-fake" in refused.text  # the field that fixes it
    api = client.post(f"{API}/projects/{project_id}/tasks/answers", json={"batch": True})
    assert api.status_code == 422 and "batch interface" in api.text
    assert _task_ids(client, project_id) == before
    # Set up (a discount of 0 says: batches, no discount), the same request starts a task.
    client.post(f"{base}/endpoints/fake", data={"batch_discount": "0"}, headers=HX)
    started = client.post(f"{API}/projects/{project_id}/tasks/answers", json={"batch": True})
    assert started.status_code == 202, started.text
    assert _finished(client, started.json()["task_id"])["status"] == "succeeded"
