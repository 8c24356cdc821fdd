"""The REST API through FastAPI's TestClient, with the fake model server over real HTTP."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from distillset.config import Settings
from distillset.testing import FakeModelServer

API = "/api/v1"


@pytest.fixture
def project(client: TestClient) -> dict[str, Any]:
    response = client.post(f"{API}/projects", json={"name": "Sports"})
    assert response.status_code == 201
    data: dict[str, Any] = response.json()
    return data


@pytest.fixture
def wired(client: TestClient, project: dict[str, Any], fake_server: FakeModelServer) -> int:
    """A project whose question and answer models are the fake server."""
    created = client.post(
        f"{API}/endpoints",
        json={
            "alias": "fake",
            "base_url": fake_server.url,
            "model": "fake-model",
            "structured_output": "json_schema",
        },
    )
    assert created.status_code == 201
    changed = client.patch(
        f"{API}/projects/{project['id']}",
        json={"question_model": "fake", "answer_model": "fake"},
    )
    assert changed.status_code == 200
    return int(project["id"])


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get(f"{API}/health").json() == {"status": "ok"}
    schema = client.get("/openapi.json").json()
    assert f"{API}/projects/{{project_id}}/tags" in schema["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "https://" not in docs.text  # no CDN: works offline
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', docs.text):
        assert client.get(asset).status_code == 200, asset
    assert "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert client.get("/favicon.ico").headers["content-type"].startswith("image/svg+xml")


def test_project_lifecycle(client: TestClient) -> None:
    created = client.post(f"{API}/projects", json={"name": "Chess", "language": "zh"})
    assert created.status_code == 201
    body = created.json()
    assert body["topic"] == "Chess" and body["language"] == "zh"
    assert body["stats"] == {"tags": 0, "questions": 0, "answers": 0}
    assert [p["name"] for p in client.get(f"{API}/projects").json()] == ["Chess"]
    changed = client.patch(f"{API}/projects/{body['id']}", json={"max_concurrency": 3})
    assert changed.json()["max_concurrency"] == 3
    assert client.delete(f"{API}/projects/{body['id']}").json()["deleted"] == body["id"]
    assert client.get(f"{API}/projects/{body['id']}").status_code == 404


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({}, 422),
        ({"name": ""}, 422),
        ({"name": "X", "language": "klingon"}, 422),
        ({"name": "X", "unknown": 1}, 422),
        ({"name": "Sports"}, 409),
    ],
)
def test_project_create_bad_input(
    client: TestClient, project: dict[str, Any], payload: dict[str, Any], status: int
) -> None:
    response = client.post(f"{API}/projects", json=payload)
    assert response.status_code == status
    assert "detail" in response.json()


def test_project_update_bad_input(client: TestClient, project: dict[str, Any]) -> None:
    url = f"{API}/projects/{project['id']}"
    assert client.patch(url, json={"max_concurrency": 0}).status_code == 422
    assert client.patch(url, json={"question_model": "missing"}).status_code == 404
    assert client.patch(f"{API}/projects/999", json={"topic": "x"}).status_code == 404
    assert client.delete(f"{API}/projects/999").status_code == 404
    assert client.get(f"{API}/projects/not-a-number").status_code == 422


def test_endpoints_never_show_the_key(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SECRET_API_KEY", "sk-very-secret-value")
    created = client.post(
        f"{API}/endpoints",
        json={"alias": "m", "base_url": "http://127.0.0.1:9/v1", "model": "x"},
    )
    assert created.status_code == 201 and created.json()["key_set"] is False
    changed = client.patch(f"{API}/endpoints/m", json={"api_key_env": "MY_SECRET_API_KEY"})
    assert changed.json()["key_set"] is True
    listing = client.get(f"{API}/endpoints")
    assert "sk-very-secret-value" not in listing.text
    assert listing.json()[0]["api_key_env"] == "MY_SECRET_API_KEY"
    assert "openai" in client.get(f"{API}/endpoints/presets").json()
    assert client.delete(f"{API}/endpoints/m").json() == {"deleted": "m"}
    assert client.get(f"{API}/endpoints/m").status_code == 404


def test_patch_null_removes_an_optional_setting_and_refuses_a_required_one(
    client: TestClient, project: dict[str, Any]
) -> None:
    created = {"alias": "m", "base_url": "http://127.0.0.1:9/v1", "model": "x"}
    assert client.post(f"{API}/endpoints", json=created).status_code == 201
    limits = {"temperature": 0, "rpm": 60, "price_input_per_m": 1.5, "stream": True}
    assert client.patch(f"{API}/endpoints/m", json=limits).json()["stream"] is True
    cleared = client.patch(f"{API}/endpoints/m", json={"rpm": None, "price_input_per_m": None})
    assert cleared.status_code == 200
    # Only the named fields go: temperature 0 is a value and stays.
    assert {k: cleared.json()[k] for k in (*limits, "model")} == {
        "temperature": 0,
        "rpm": None,
        "price_input_per_m": None,
        "stream": True,
        "model": "x",
    }
    referenced = {"api_key_env": "MY_API_KEY", "extra_body": {"top_k": 20}}
    assert client.patch(f"{API}/endpoints/m", json=referenced).status_code == 200
    dropped = client.patch(f"{API}/endpoints/m", json=dict.fromkeys(referenced)).json()
    assert (dropped["api_key_env"], dropped["extra_body"]) == (None, {})
    refused = client.patch(f"{API}/endpoints/m", json={"model": None})
    assert refused.status_code == 422 and "cannot be removed" in refused.json()["detail"]

    url = f"{API}/projects/{project['id']}"
    set_up = {"requests_per_minute": 100, "answer_model": "m", "answer_system_prompt": "Be brief."}
    assert client.patch(url, json=set_up).status_code == 200
    gone = client.patch(url, json=dict.fromkeys(set_up)).json()
    assert (gone["requests_per_minute"], gone["answer_model"], gone["answer_system_prompt"]) == (
        None,
        None,
        None,
    )
    assert client.patch(url, json={"topic": None}).status_code == 422


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"alias": "a", "model": "x"}, 422),  # no base URL and no preset
        ({"alias": "a", "model": "x", "base_url": "ftp://host"}, 422),
        ({"alias": "a", "model": "x", "preset": "nope"}, 422),
        ({"alias": "a", "model": "x", "preset": "openai", "temperature": 9}, 422),
        ({"alias": "a", "model": "x", "preset": "openai", "structured_output": "xml"}, 422),
        ({"alias": "a", "preset": "openai"}, 422),
    ],
)
def test_endpoint_bad_input(client: TestClient, payload: dict[str, Any], status: int) -> None:
    assert client.post(f"{API}/endpoints", json=payload).status_code == status


def test_endpoint_conflict_and_test_call(client: TestClient, fake_server: FakeModelServer) -> None:
    body = {"alias": "fake", "base_url": fake_server.url, "model": "fake-model"}
    assert client.post(f"{API}/endpoints", json=body).status_code == 201
    assert client.post(f"{API}/endpoints", json=body).status_code == 409
    result = client.post(f"{API}/endpoints/fake/test").json()
    assert result["ok"] is True and result["reply"]
    # The CLI's probe: structured output and reasoning are reported too.
    assert result["structured_output_works"] is True  # tried, though not turned on
    assert result["structured_output"] == "json_schema" and result["reasoning"] is True
    assert client.post(f"{API}/endpoints/missing/test").status_code == 404


def test_endpoint_test_reports_a_failure(client: TestClient) -> None:
    # Port 9 (discard) on loopback: nothing listens, the call fails fast.
    body = {"alias": "dead", "base_url": "http://127.0.0.1:9/v1", "model": "x"}
    client.post(f"{API}/endpoints", json=body)
    result = client.post(f"{API}/endpoints/dead/test").json()
    assert result["ok"] is False and result["error"]


def test_prompts_override_and_reset(client: TestClient, project: dict[str, Any]) -> None:
    url = f"{API}/projects/{project['id']}/prompts"
    kinds = {p["kind"]: p for p in client.get(url).json()}
    assert set(kinds) >= {"tags", "questions", "answer"}
    assert kinds["answer"]["overridden"] is False
    template = "Answer this: {question}"
    changed = client.put(f"{url}/answer", json={"template": template})
    assert changed.json() == {**changed.json(), "template": template, "overridden": True}
    assert client.get(f"{url}/answer").json()["template"] == template
    assert client.put(f"{url}/answer", json={"template": "no placeholder"}).status_code == 422
    assert client.put(f"{url}/nope", json={"template": "x {question}"}).status_code == 422
    assert client.put(f"{url}/answer", json={}).status_code == 422
    reset = client.delete(f"{url}/answer").json()
    assert reset["overridden"] is False and reset["template"] == kinds["answer"]["template"]


def test_tags_by_hand_rename_delete(client: TestClient, project: dict[str, Any]) -> None:
    url = f"{API}/projects/{project['id']}/tags"
    top = client.post(url, json={"label": "Ball games"}).json()
    child = client.post(url, json={"label": "Football", "parent_id": top["id"]}).json()
    assert child["path"] == "Ball games > Football" and child["depth"] == 2
    assert client.post(url, json={"label": "ball games"}).status_code == 409
    assert client.post(url, json={"label": "x", "parent_id": 999}).status_code == 404
    assert client.post(url, json={"label": "  "}).status_code == 422
    listing = client.get(url).json()
    assert [(t["label"], t["children"]) for t in listing["items"]] == [("Ball games", 1)]
    renamed = client.patch(f"{url}/{child['id']}", json={"label": "Soccer"}).json()
    assert renamed["label"] == "Soccer"
    assert client.get(url, params={"parent_id": top["id"]}).json()["items"][0]["label"] == "Soccer"
    deleted = client.delete(f"{url}/{top['id']}").json()
    assert deleted == {"deleted": top["id"], "tags": 2, "questions": 0, "answers": 0}
    assert client.get(f"{url}/{top['id']}").status_code == 404


def test_tag_listing_pages_with_a_cursor(client: TestClient, project: dict[str, Any]) -> None:
    url = f"{API}/projects/{project['id']}/tags"
    for index in range(5):
        client.post(url, json={"label": f"Tag {index}"})
    first = client.get(url, params={"limit": 2}).json()
    second = client.get(url, params={"limit": 2, "after": first["next"]}).json()
    third = client.get(url, params={"limit": 2, "after": second["next"]}).json()
    labels = [t["label"] for page in (first, second, third) for t in page["items"]]
    assert labels == [f"Tag {index}" for index in range(5)]
    assert third["next"] is None
    assert client.get(url, params={"after": "garbage"}).status_code == 422
    assert client.get(url, params={"limit": 0}).status_code == 422


def test_generation_questions_answers_and_review(client: TestClient, wired: int) -> None:
    base = f"{API}/projects/{wired}"
    top = client.post(f"{base}/tags/generate", json={"count": 3}).json()
    assert len(top["created"]) == 3 and top["error"] is None
    parent = top["created"][0]
    more = client.post(f"{base}/tags/generate", json={"count": 2, "parent_id": parent}).json()
    assert len(more["created"]) == 2
    # "count" adds that many: asking again creates new ones, never duplicates.
    again = client.post(f"{base}/tags/generate", json={"count": 1, "parent_id": parent}).json()
    assert len(again["created"]) == 1
    assert client.get(f"{base}/tags/{parent}").json()["children"] == 3

    leaf = more["created"][0]
    questions = client.post(f"{base}/tags/{leaf}/questions/generate", json={"count": 3}).json()
    assert len(questions["created"]) == 3
    listing = client.get(f"{base}/questions", params={"tag_id": parent}).json()
    assert len(listing["items"]) == 3 and not any(q["answered"] for q in listing["items"])
    assert all(q["origin"] == "distilled" for q in listing["items"])

    question_id = questions["created"][0]
    answered = client.post(f"{base}/questions/{question_id}/answer").json()
    assert answered["answer_id"] and answered["error"] is None
    again = client.post(f"{base}/questions/{question_id}/answer").json()
    assert again["skipped"] is True
    assert (
        client.get(f"{base}/questions", params={"answered": True}).json()["items"][0]["id"]
        == question_id
    )

    record_id = answered["answer_id"]
    record = client.get(f"{base}/records/{record_id}").json()
    assert record["reasoning"] and record["confirmed"] is False
    changed = client.patch(
        f"{base}/records/{record_id}", json={"confirmed": True, "score": 4.5, "note": "good"}
    ).json()
    assert (changed["confirmed"], changed["score"], changed["note"]) == (True, 4.5, "good")
    assert client.patch(f"{base}/records/{record_id}", json={"score": 7}).status_code == 422
    assert client.patch(f"{base}/records/{record_id}", json={"answer": " "}).status_code == 422
    cleared = client.patch(f"{base}/records/{record_id}", json={"score": None}).json()
    assert cleared["score"] is None
    confirmed = client.get(f"{base}/records", params={"confirmed": True}).json()
    assert [r["id"] for r in confirmed["records"]] == [record_id]
    assert client.get(f"{base}/records", params={"tag_id": 99999}).status_code == 404
    assert client.get(f"{base}/records/99999").status_code == 404


def test_generation_needs_models(client: TestClient, project: dict[str, Any]) -> None:
    response = client.post(f"{API}/projects/{project['id']}/tags/generate", json={"count": 2})
    assert response.status_code == 422
    assert "question model" in response.json()["detail"]
    assert (
        client.post(f"{API}/projects/{project['id']}/tags/generate", json={"count": 0}).status_code
        == 422
    )


def test_export_download_streams_a_file(client: TestClient, wired: int) -> None:
    base = f"{API}/projects/{wired}"
    tag = client.post(f"{base}/tags", json={"label": "Running"}).json()["id"]
    created = client.post(f"{base}/tags/{tag}/questions/generate", json={"count": 2}).json()
    for question_id in created["created"]:
        client.post(f"{base}/questions/{question_id}/answer")
    first = client.get(f"{base}/records").json()["records"][0]["id"]
    client.patch(f"{base}/records/{first}", json={"confirmed": True})

    response = client.get(f"{base}/export", params={"format": "alpaca", "file_format": "jsonl"})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    rows = [json.loads(line) for line in response.text.splitlines()]
    assert len(rows) == 2 and all("<think>" in row["output"] for row in rows)

    confirmed = client.get(
        f"{base}/export",
        params={"format": "alpaca", "file_format": "csv", "confirmed_only": True},
    )
    assert len(list(csv.DictReader(io.StringIO(confirmed.text)))) == 1
    dropped = client.get(f"{base}/export", params={"format": "alpaca", "reasoning": "drop"})
    assert all("<think>" not in json.loads(line)["output"] for line in dropped.text.splitlines())
    assert client.get(f"{base}/export", params={"format": "nope"}).status_code == 422
    assert client.get(f"{base}/export", params={"file_format": "xml"}).status_code == 422
    names = {f["name"] for f in client.get(f"{base}/export/formats").json()}
    assert {"alpaca", "sharegpt", "messages"} <= names


def _events(client: TestClient, task_id: int) -> list[tuple[str, dict[str, Any]]]:
    """Read the task's SSE stream to its end."""
    events: list[tuple[str, dict[str, Any]]] = []
    name = ""
    with client.stream("GET", f"{API}/tasks/{task_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    return events


def test_auto_distill_task_with_plan_and_progress_stream(client: TestClient, wired: int) -> None:
    base = f"{API}/projects/{wired}"
    params = {"levels": 2, "tags_per_level": 2, "questions_per_tag": 2}
    plan = client.post(f"{base}/auto/plan", json=params).json()
    assert (plan["tags"], plan["questions"], plan["answers"]) == (6, 8, 8)
    started = client.post(f"{base}/tasks/auto", json=params)
    assert started.status_code == 202
    task_id = started.json()["task_id"]

    events = _events(client, task_id)
    name, final = events[-1]
    assert name == "end" and final["status"] == "succeeded"
    assert final["counters"]["answers"] == {"planned": 8, "done": 8, "failed": 0, "skipped": 0}
    messages = [event["message"] for _, data in events for event in data["events"]]
    assert any(message.startswith("started") for message in messages)

    listing = client.get(f"{base}/tasks").json()
    assert listing[0]["id"] == task_id and listing[0]["status"] == "succeeded"
    assert client.post(f"{API}/tasks/{task_id}/resume").status_code == 409
    assert client.post(f"{API}/tasks/{task_id}/cancel").status_code == 409
    # Nothing is left to do: a new plan for the same shape creates nothing.
    assert client.post(f"{base}/auto/plan", json=params).json()["answers"] == 0


def _answer_task(client: TestClient, project_id: int, tag_id: int) -> int:
    started = client.post(f"{API}/projects/{project_id}/tasks/answers", json={"tag_id": tag_id})
    assert started.status_code == 202
    return int(started.json()["task_id"])


def test_progress_says_the_cost_is_unknown_while_no_model_has_a_price(
    client: TestClient, wired: int
) -> None:
    base = f"{API}/projects/{wired}"
    tag = client.post(f"{base}/tags", json={"label": "Cycling"}).json()["id"]
    client.post(f"{base}/tags/{tag}/questions/generate", json={"count": 2})
    task_id = _answer_task(client, wired, tag)
    events = _events(client, task_id)
    assert events[-1][1]["counters"]["calls"]["requests"] == 2
    assert [data["counters"]["calls"]["cost"] for _, data in events] == [None] * len(events)
    page = client.get(f"/projects/{wired}/tasks/{task_id}").text
    assert '<span data-field="cost">unknown</span>' in page

    prices = {"price_input_per_m": 1.0, "price_output_per_m": 2.0}
    assert client.patch(f"{API}/endpoints/fake", json=prices).status_code == 200
    client.post(f"{base}/tags/{tag}/questions/generate", json={"count": 2})
    priced = _events(client, _answer_task(client, wired, tag))[-1][1]
    assert priced["counters"]["calls"]["cost"] > 0


def test_auto_distill_bad_input_and_unknown_tasks(client: TestClient, wired: int) -> None:
    base = f"{API}/projects/{wired}"
    assert client.post(f"{base}/auto/plan", json={"levels": 0}).status_code == 422
    assert client.post(f"{base}/tasks/auto", json={"tags_per_level": 500}).status_code == 422
    assert client.post(f"{API}/projects/999/tasks/auto", json={}).status_code == 404
    assert client.get(f"{API}/tasks/999").status_code == 404
    assert client.get(f"{API}/tasks/999/events").status_code == 404
    assert client.post(f"{API}/tasks/999/cancel").status_code == 404
    assert client.post(f"{API}/tasks/999/resume").status_code == 404


def test_answer_all_task_and_cancel_then_resume(
    client: TestClient, wired: int, fake_server: FakeModelServer
) -> None:
    base = f"{API}/projects/{wired}"
    tag = client.post(f"{base}/tags", json={"label": "Swimming"}).json()["id"]
    client.post(f"{base}/tags/{tag}/questions/generate", json={"count": 4})
    # Slow answers keep the task running while it is cancelled; the resumed run is quick.
    fake_server.configure(latency=10.0)
    started = client.post(f"{base}/tasks/answers", json={"tag_id": tag}).json()
    task_id = started["task_id"]
    assert started["plan"]["answers"] == 4
    assert client.post(f"{API}/tasks/{task_id}/cancel").status_code == 200
    end = _events(client, task_id)[-1][1]
    assert end["status"] == "cancelled"
    assert end["counters"]["answers"]["done"] == 0
    fake_server.configure(latency=0.0)
    assert client.post(f"{API}/tasks/{task_id}/resume").status_code == 202
    end = _events(client, task_id)[-1][1]
    assert end["status"] == "succeeded"
    assert end["counters"]["answers"] == {"planned": 4, "done": 4, "failed": 0, "skipped": 0}
    answered = client.get(f"{base}/questions", params={"answered": False}).json()
    assert answered["items"] == []
    assert client.post(f"{base}/tasks/answers", json={"tag_id": 424242}).status_code == 404


def test_question_delete_and_bad_filters(client: TestClient, wired: int) -> None:
    base = f"{API}/projects/{wired}"
    tag = client.post(f"{base}/tags", json={"label": "Tennis"}).json()["id"]
    created = client.post(f"{base}/tags/{tag}/questions/generate", json={"count": 2}).json()
    question_id = created["created"][0]
    assert client.get(f"{base}/questions/{question_id}").json()["id"] == question_id
    found = client.get(f"{base}/questions", params={"q": "tennis"}).json()["items"]
    assert found, "text search is case-insensitive"
    deleted = client.delete(f"{base}/questions/{question_id}").json()
    assert deleted == {"deleted": question_id, "answers": 0}
    assert client.get(f"{base}/questions/{question_id}").status_code == 404
    assert client.get(f"{base}/questions", params={"tag_id": 999}).status_code == 404
    assert client.get(f"{base}/questions", params={"limit": 5000}).status_code == 422
    assert client.post(f"{base}/questions/999/answer").status_code == 404


def test_tree_import_upload(client: TestClient, project: dict[str, Any]) -> None:
    url = f"{API}/projects/{project['id']}/tags"
    outline = "# Sports\n- Ball games\n  - Football\n  - Tennis\n- Athletics\n"
    imported = client.post(
        f"{url}/import", files={"file": ("toc.md", outline.encode(), "text/markdown")}
    )
    assert imported.status_code == 201
    assert imported.json() == {"created": 4, "in_file": 4}  # the `# Sports` topic is not a tag
    again = client.post(f"{url}/import", files={"file": ("toc.md", outline.encode())})
    assert again.json()["created"] == 0
    top = client.get(url).json()["items"]
    assert [t["label"] for t in top] == ["Ball games", "Athletics"]
    under = client.post(
        f"{url}/import",
        files={"file": ("more.json", json.dumps(["Sprint", "Marathon"]).encode())},
        data={"parent_id": str(top[1]["id"])},
    )
    assert under.json()["created"] == 2
    assert client.get(url, params={"parent_id": top[1]["id"]}).json()["items"][0]["depth"] == 2


@pytest.mark.parametrize(
    ("name", "content", "extra"),
    [
        ("tree.json", b"{not json", {}),
        ("tree.exe", b"- A", {}),
        ("tree.md", b"\xff\xfe\x00bad", {}),
        ("tree.json", b"[]", {}),
        ("tree.json", json.dumps({"label": "A", "children": [{"label": "  "}]}).encode(), {}),
        ("tree.md", b"- A", {"file_format": "xml"}),
        ("tree.md", b"- A", {"parent_id": "999"}),
    ],
)
def test_tree_import_refuses_bad_files(
    client: TestClient, project: dict[str, Any], name: str, content: bytes, extra: dict[str, str]
) -> None:
    url = f"{API}/projects/{project['id']}/tags/import"
    response = client.post(url, files={"file": (name, content)}, data=extra)
    assert response.status_code in (404, 422)
    assert isinstance(response.json()["detail"], str | list)
    assert client.get(f"{API}/projects/{project['id']}").json()["stats"]["tags"] == 0


def test_tree_import_refuses_a_too_deep_outline(
    client: TestClient, project: dict[str, Any]
) -> None:
    deep: dict[str, Any] = {"label": "L0", "children": []}
    node = deep
    for level in range(1, 30):
        child: dict[str, Any] = {"label": f"L{level}", "children": []}
        node["children"].append(child)
        node = child
    response = client.post(
        f"{API}/projects/{project['id']}/tags/import",
        files={"file": ("deep.json", json.dumps(deep).encode())},
    )
    assert response.status_code == 422 and "deep" in response.json()["detail"]


def test_a_second_task_of_the_same_kind_is_refused_while_one_runs(
    client: TestClient, wired: int, fake_server: FakeModelServer
) -> None:
    base = f"{API}/projects/{wired}"
    fake_server.configure(latency=10.0)
    params = {"levels": 1, "tags_per_level": 2, "questions_per_tag": 1}
    first = client.post(f"{base}/tasks/auto", json=params).json()["task_id"]
    # The stream's first message comes once the run has claimed its task.
    with client.stream("GET", f"{API}/tasks/{first}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: ") and json.loads(line[6:])["status"] == "running":
                break
    second = client.post(f"{base}/tasks/auto", json=params)
    assert second.status_code == 409 and f"task {first}" in second.json()["detail"]
    assert client.post(f"{API}/tasks/{first}/resume").status_code == 409
    assert client.post(f"{API}/tasks/{first}/cancel").status_code == 200
    assert _events(client, first)[-1][1]["status"] == "cancelled"


def _answered_records(client: TestClient, project_id: int, label: str, count: int) -> list[int]:
    """Record ids of ``count`` answered questions of a new tag."""
    base = f"{API}/projects/{project_id}"
    tag = client.post(f"{base}/tags", json={"label": label}).json()["id"]
    created = client.post(f"{base}/tags/{tag}/questions/generate", json={"count": count}).json()
    return [
        client.post(f"{base}/questions/{question}/answer").json()["answer_id"]
        for question in created["created"]
    ]


def test_bulk_confirm_sets_exactly_the_named_records(client: TestClient, wired: int) -> None:
    base = f"{API}/projects/{wired}"
    first, second, third = _answered_records(client, wired, "Rowing", 3)

    confirmed = client.post(f"{base}/records/confirm", json={"ids": [first, third, first]})
    assert confirmed.status_code == 200 and confirmed.json() == {"matched": 2}
    listed = client.get(f"{base}/records", params={"confirmed": True}).json()["records"]
    assert sorted(record["id"] for record in listed) == [first, third]
    assert client.get(f"{base}/records/{second}").json()["confirmed"] is False

    undone = client.post(f"{base}/records/confirm", json={"ids": [third], "confirmed": False})
    assert undone.status_code == 200 and undone.json() == {"matched": 1}
    listed = client.get(f"{base}/records", params={"confirmed": True}).json()["records"]
    assert [record["id"] for record in listed] == [first]


def test_bulk_confirm_with_a_record_of_another_project_changes_nothing(
    client: TestClient, wired: int
) -> None:
    base = f"{API}/projects/{wired}"
    [own] = _answered_records(client, wired, "Rowing", 1)
    other = client.post(f"{API}/projects", json={"name": "Chess"}).json()["id"]
    client.patch(f"{API}/projects/{other}", json={"question_model": "fake", "answer_model": "fake"})
    [foreign] = _answered_records(client, other, "Openings", 1)

    response = client.post(f"{base}/records/confirm", json={"ids": [own, foreign, 9999]})
    assert response.status_code == 404
    assert f"no record {foreign}, 9999 in project" in response.json()["detail"]
    assert client.get(f"{base}/records/{own}").json()["confirmed"] is False
    assert client.get(f"{API}/projects/{other}/records/{foreign}").json()["confirmed"] is False


@pytest.mark.parametrize("body", [{"ids": []}, {"ids": ["one"]}, {"ids": [1.5]}, {"ids": 1}, {}])
def test_bulk_confirm_refuses_bad_ids(client: TestClient, wired: int, body: Any) -> None:
    response = client.post(f"{API}/projects/{wired}/records/confirm", json=body)
    assert response.status_code == 422 and response.json()["detail"]


def test_bulk_confirm_of_an_unknown_project_is_404(client: TestClient) -> None:
    response = client.post(f"{API}/projects/4242/records/confirm", json={"ids": [1]})
    assert response.status_code == 404 and "no project with id 4242" in response.json()["detail"]


def test_text_with_a_lone_surrogate_is_refused_with_its_field_and_nothing_stored(
    client: TestClient, project: dict[str, Any]
) -> None:
    created = {"alias": "m", "base_url": "http://127.0.0.1:9/v1", "model": "x"}
    assert client.post(f"{API}/endpoints", json=created).status_code == 201
    headers = {"Content-Type": "application/json"}
    cases = [  # ASCII JSON that escapes half a surrogate pair
        (f"{API}/projects/{project['id']}", '{"answer_system_prompt": "a\\ud800b"}'),
        (f"{API}/endpoints/m", '{"extra_body": {"note": ["x", "\\udc00"]}}'),
    ]
    for url, body in cases:
        refused = client.patch(url, content=body, headers=headers)
        assert refused.status_code == 422, refused.text
        (problem,) = refused.json()["detail"]
        assert problem["loc"][-1] in ("answer_system_prompt", "extra_body")
        assert "not valid UTF-8" in problem["msg"]
    assert client.get(f"{API}/projects/{project['id']}").json()["answer_system_prompt"] is None
    assert client.get(f"{API}/endpoints/m").json()["extra_body"] == {}
