"""Access control, cross-site refusal, escaping and error pages of the web app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from distillset.cli import app as cli_app
from distillset.config import Settings
from distillset.web import create_app
from distillset.web.security import is_loopback

TOKEN = "t0ken-for-tests"


@pytest.fixture
def open_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
def guarded(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, token=TOKEN), base_url="http://127.0.0.1") as client:
        yield client


def test_token_is_required_for_api_and_pages(guarded: TestClient) -> None:
    assert guarded.get("/api/v1/projects").status_code == 401
    assert (
        guarded.get("/api/v1/projects", headers={"Authorization": "Bearer wrong"}).status_code
        == 401
    )
    ok = guarded.get("/api/v1/projects", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    page = guarded.get("/projects/1/distill?x=1", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/projects/1/distill%3Fx%3D1"
    assert guarded.post("/projects", data={"name": "X"}).status_code == 401
    # The stylesheet and the login page stay reachable.
    assert guarded.get("/static/app.css").status_code == 200
    assert guarded.get("/login").status_code == 200


def test_login_sets_a_cookie_that_opens_everything(guarded: TestClient) -> None:
    refused = guarded.post("/login", data={"token": "wrong", "next": "/"})
    assert refused.status_code == 401 and "not valid" in refused.text
    response = guarded.post(
        "/login", data={"token": TOKEN, "next": "//evil.example/"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=strict" in response.headers["set-cookie"].lower()
    assert guarded.get("/api/v1/projects").status_code == 200
    assert guarded.get("/").status_code == 200


def test_cross_site_state_changes_are_refused(open_client: TestClient) -> None:
    cross = {"Sec-Fetch-Site": "cross-site"}
    assert (
        open_client.post("/api/v1/projects", json={"name": "A"}, headers=cross).status_code == 403
    )
    evil = {"Origin": "http://evil.example"}
    assert open_client.post("/api/v1/projects", json={"name": "A"}, headers=evil).status_code == 403
    assert open_client.post("/projects", data={"name": "A"}, headers=evil).status_code == 403
    same = {"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1"}
    assert open_client.post("/api/v1/projects", json={"name": "A"}, headers=same).status_code == 201
    # Reading is not a state change: a cross-site GET gets the page.
    assert open_client.get("/api/v1/projects", headers=cross).status_code == 200


def test_model_text_is_escaped(open_client: TestClient) -> None:
    project = open_client.post("/api/v1/projects", json={"name": "<b>bold</b>"}).json()
    # No label holds '>' (the path separator); an unclosed tag is markup all the same.
    label = "<img src=x onerror=alert(1) title="
    tag = open_client.post(f"/api/v1/projects/{project['id']}/tags", json={"label": label})
    assert tag.status_code == 201
    stored = tag.json()["label"]
    assert stored == label
    page = open_client.get(f"/projects/{project['id']}/distill").text
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    detail = open_client.get(f"/projects/{project['id']}/distill/tags/{tag.json()['id']}").text
    assert stored not in detail and "&lt;img src=x" in detail


def test_errors_are_json_for_the_api_and_messages_for_pages(open_client: TestClient) -> None:
    api = open_client.get("/api/v1/projects/12345")
    assert api.status_code == 404 and api.json() == {"detail": "no project with id 12345"}
    page = open_client.get("/projects/12345/distill")
    assert page.status_code == 404 and "no project with id 12345" in page.text
    assert "Traceback" not in page.text
    fragment = open_client.get("/projects/12345/distill", headers={"HX-Request": "true"})
    assert fragment.headers["HX-Retarget"] == "#messages"
    missing = open_client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and "detail" in missing.json()


def test_bad_form_input_is_a_message(open_client: TestClient) -> None:
    project = open_client.post("/api/v1/projects", json={"name": "P"}).json()
    response = open_client.post(
        f"/projects/{project['id']}/settings",
        data={"max_concurrency": "many"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422 and "max_concurrency" in response.text
    assert "Traceback" not in response.text


def test_serve_refuses_a_public_address_without_a_token() -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0", "--port", "8999"])
    assert result.exit_code == 2
    assert "without a token" in result.output


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_without_a_token_only_loopback_hosts_are_served(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app, base_url="http://attacker.example") as rebound:
        assert rebound.get("/api/v1/projects").status_code == 400
    with TestClient(app, base_url="http://localhost:8000") as local:
        assert local.get("/api/v1/projects").status_code == 200
    with TestClient(app, base_url="http://[::1]:8000") as local6:
        assert local6.get("/api/v1/health").status_code == 200
    guarded = create_app(settings, token=TOKEN)
    with TestClient(guarded, base_url="http://10.0.0.5:8000") as remote:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert remote.get("/api/v1/health", headers=headers).status_code == 200
