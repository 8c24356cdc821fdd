"""The web's plan preview is the core's plan: what the core refuses, the web refuses too,
with the core's message, before it shows a plan."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from distillset.auto import jobs
from distillset.config import Settings
from distillset.domain import DistillsetError, InvalidInputError
from distillset.store import Store
from distillset.testing import FakeModelServer
from helpers import make_web_project

API = "/api/v1"
HX = {"HX-Request": "true"}


@pytest.fixture
def project_id(client: TestClient, fake_server: FakeModelServer) -> int:
    """A project with a tree under its topic, whose models are the fake server."""
    return make_web_project(client, fake_server.url, "Sports", "Cycling")


def _core_refusal(store: Store, settings: Settings, project_id: int, topic: str) -> str:
    with store.session() as session, pytest.raises(InvalidInputError) as refused:
        jobs.create_auto_job(session, settings, project_id, levels=1, tags=2, topic=topic)
    return str(refused.value)


@pytest.mark.parametrize("topic", ["Chess", "   "])
def test_the_web_refuses_a_plan_the_core_refuses(
    client: TestClient,
    project_id: int,
    store: Store,
    settings: Settings,
    fake_server: FakeModelServer,
    topic: str,
) -> None:
    # Another topic on an existing tree, or a blank one: the core starts no such run.
    message = _core_refusal(store, settings, project_id, topic)
    params = {"levels": 1, "tags_per_level": 2, "questions_per_tag": 1, "topic": topic}

    shown = client.post(f"{API}/projects/{project_id}/auto/plan", json=params)
    assert shown.status_code == 422
    assert shown.json()["detail"] == message

    assert fake_server.stats().total == 0


def test_the_plan_page_shows_the_core_refusal(
    client: TestClient, project_id: int, store: Store, settings: Settings
) -> None:
    message = _core_refusal(store, settings, project_id, "Chess")
    form = {"levels": "1", "tags_per_level": "2", "questions_per_tag": "1", "topic": "Chess"}
    page = client.post(f"/projects/{project_id}/distill/auto/plan", data=form, headers=HX)
    assert page.status_code == 422
    assert page.headers["HX-Retarget"] == "#messages"
    assert "already has a tree under the topic" in page.text
    assert "Start" not in page.text and message.startswith("project 'Sports' already has")


def test_the_web_plan_is_the_core_plan_with_its_price(
    client: TestClient, project_id: int, store: Store, settings: Settings
) -> None:
    prices = {"price_input_per_m": 1.0, "price_output_per_m": 2.0}
    assert client.patch(f"{API}/endpoints/fake", json=prices).status_code == 200
    params = {"levels": 2, "tags_per_level": 3, "questions_per_tag": 2}
    shown = client.post(f"{API}/projects/{project_id}/auto/plan", json=params).json()
    with store.session() as session:
        core = jobs.preview_auto_job(session, settings, project_id, levels=2, tags=3, questions=2)
    assert shown == core.as_dict()
    assert shown["estimated_cost"] > 0


def test_no_plan_is_shown_for_a_project_without_models(
    client: TestClient, store: Store, settings: Settings
) -> None:
    bare = client.post(f"{API}/projects", json={"name": "Chess"}).json()["id"]
    with store.session() as session, pytest.raises(DistillsetError) as refused:
        jobs.create_auto_job(session, settings, bare, levels=1, tags=2)
    shown = client.post(f"{API}/projects/{bare}/auto/plan", json={"levels": 1})
    assert shown.status_code == 422
    assert shown.json()["detail"] == str(refused.value)
    assert "question model" in str(refused.value)


def test_start_sends_the_fields_as_they_are_and_reconfirms_a_large_plan_that_changed(
    client: TestClient, project_id: int, fake_server: FakeModelServer
) -> None:
    shown = client.post(
        f"/projects/{project_id}/distill/auto/plan",
        data={"topic": "Sports", "levels": "1", "tags_per_level": "2", "questions_per_tag": "1"},
        headers=HX,
    ).text
    # The plan's Start carries no copy of the fields: it sends the form's, as they are then.
    assert 'hx-include="#auto-form"' in shown and 'name="levels"' not in shown
    assert 'name="planned" value="Sports|1|2|1"' in shown

    # A large plan confirmed while other numbers were shown is drawn again, not started.
    large = {"topic": "Sports", "levels": "6", "tags_per_level": "100", "questions_per_tag": "100"}
    again = client.post(
        f"/projects/{project_id}/distill/auto/start",
        data={**large, "confirm_large": "true", "planned": "Sports|1|2|1"},
        headers=HX,
    )
    assert again.status_code == 200 and "HX-Redirect" not in again.headers
    assert "The fields changed after this plan was shown" in again.text
    assert "This is a large plan" in again.text and 'value="Sports|6|100|100"' in again.text
    assert client.get(f"{API}/projects/{project_id}/tasks").json() == []
    assert fake_server.stats().total == 0
