"""Ids beyond SQLite's integer range: a clear 422 from the API and the pages, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from distillset.config import Settings
from distillset.web import create_app

HUGE = 99_999_999_999_999_999_999_999
MAX_ID = 2**63 - 1  # the largest id SQLite can store
HX = {"HX-Request": "true"}
TOO_LARGE = "Input should be less than or equal to 9223372036854775807"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as test:
        project = test.post("/api/v1/projects", json={"name": "Sports"})
        assert project.json()["id"] == 1
        assert test.post("/api/v1/projects/1/tags", json={"label": "Running"}).json()["id"] == 1
        yield test


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("GET", f"/api/v1/projects/{HUGE}", None, ["path", "project_id"]),
        ("GET", f"/api/v1/projects/1/tags/{HUGE}", None, ["path", "tag_id"]),
        ("GET", f"/api/v1/projects/1/tags?parent_id={HUGE}", None, ["query", "parent_id"]),
        ("GET", f"/api/v1/tasks/{HUGE}", None, ["path", "task_id"]),
        ("GET", f"/api/v1/tasks/{HUGE}/events", None, ["path", "task_id"]),
        ("GET", f"/api/v1/projects/1/questions?after={HUGE}", None, ["query", "after"]),
        ("GET", f"/api/v1/projects/1/records?cursor={HUGE}", None, ["query", "cursor"]),
        ("GET", f"/api/v1/projects/1/records/{HUGE}", None, ["path", "record_id"]),
        ("DELETE", f"/api/v1/projects/1/questions/{HUGE}", None, ["path", "question_id"]),
        (
            "POST",
            "/api/v1/projects/1/tags",
            {"label": "x", "parent_id": HUGE},
            ["body", "parent_id"],
        ),
        ("POST", "/api/v1/projects/1/records/confirm", {"ids": [2**70]}, ["body", "ids", 0]),
        ("POST", "/api/v1/projects/1/tasks/answers", {"tag_id": HUGE}, ["body", "tag_id"]),
    ],
)
def test_api_refuses_a_huge_id_with_422(
    client: TestClient, method: str, url: str, body: dict[str, Any] | None, field: list[Any]
) -> None:
    response = client.request(method, url, json=body)
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert [(p["loc"], p["msg"]) for p in problems] == [(field, TOO_LARGE)]


@pytest.mark.parametrize(
    "url",
    [f"/api/v1/projects/{MAX_ID}", f"/api/v1/projects/1/tags/{MAX_ID}", f"/api/v1/tasks/{MAX_ID}"],
)
def test_an_id_at_the_limit_is_a_plain_404(client: TestClient, url: str) -> None:
    """Not every long number is refused: 2**63-1 is a valid id that names no row."""
    response = client.get(url)
    assert response.status_code == 404 and "no " in response.json()["detail"]


def test_api_refuses_a_tag_cursor_past_the_range(client: TestClient) -> None:
    response = client.get("/api/v1/projects/1/tags", params={"after": f"1:{HUGE}"})
    assert response.status_code == 422
    assert "is not a cursor of this listing" in response.json()["detail"]
    # Past Python's 4300-digit limit for int(): refused by its shape, never a 500.
    endless = client.get("/api/v1/projects/1/tags", params={"after": "1:" + "9" * 5000})
    assert endless.status_code == 422
    assert "is not a cursor of this listing" in endless.json()["detail"]
    page = client.get("/projects/1/distill/children", params={"after": "9" * 5000 + ":1"})
    assert page.status_code == 422 and "is not a cursor of this listing" in page.text


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"/projects/{HUGE}/distill", "project_id"),
        (f"/projects/1/distill/children?parent_id={HUGE}", "parent_id"),
        (f"/projects/1/distill/tags/{HUGE}", "tag_id"),
        (f"/projects/1/distill/tags/1/questions?after={HUGE}", "after"),
        (f"/projects/1/questions?after={HUGE}", "after"),
        (f"/projects/1/dataset?cursor={HUGE}", "cursor"),
        (f"/projects/1/tasks/{HUGE}", "task_id"),
    ],
)
def test_pages_show_their_error_page_for_a_huge_id(
    client: TestClient, url: str, field: str
) -> None:
    response = client.get(url)
    assert response.status_code == 422
    assert "Something went wrong (422)" in response.text
    assert f"{field}: {TOO_LARGE}" in response.text


def test_a_page_fragment_gets_the_error_message_in_the_message_area(client: TestClient) -> None:
    response = client.get(f"/projects/1/distill/children?after=1:{HUGE}", headers=HX)
    assert response.status_code == 422 and response.headers["HX-Retarget"] == "#messages"
    assert "is not a cursor of this listing" in response.text


def test_a_form_with_a_huge_parent_id_is_refused(client: TestClient) -> None:
    response = client.post(
        "/projects/1/distill/tags", data={"label": "Sprint", "parent_id": str(HUGE)}, headers=HX
    )
    assert response.status_code == 422 and f"parent_id: {TOO_LARGE}" in response.text
    children = client.get("/api/v1/projects/1/tags").json()["items"]
    assert [tag["label"] for tag in children] == ["Running"]
