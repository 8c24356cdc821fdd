"""The web app's multi-turn parts: the setting form, and the auto dialog's dataset type."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from distillset import Project
from distillset.config import Settings
from distillset.testing import FakeModelServer
from helpers import make_web_project

HX = {"HX-Request": "true"}


def test_the_multi_turn_setting_form_saves_and_an_emptied_field_clears(
    client: TestClient, settings: Settings, fake_server: FakeModelServer
) -> None:
    project_id = make_web_project(client, fake_server.url)
    url = f"/projects/{project_id}/settings/multi-turn"
    form = {"scenario": "a first lesson", "user_role": "a student", "rounds": "2",
            "user_model": "fake", "system_prompt": "Be kind.", "assistant_role": ""}  # fmt: skip

    saved = client.post(url, data=form, headers=HX)

    assert saved.status_code == 200 and "Multi-turn setting saved." in saved.text
    setting = Project("Sports", settings=settings).multi_turn()
    assert setting == {"scenario": "a first lesson", "user_role": "a student",
                       "assistant_role": None, "rounds": 2, "system_prompt": "Be kind.",
                       "user_model": "fake"}  # fmt: skip
    page = client.get(f"/projects/{project_id}/settings").text
    assert 'value="a first lesson"' in page and '<option value="fake" selected>' in page
    client.post(url, data={**form, "scenario": "", "user_model": ""}, headers=HX)
    cleared = Project("Sports", settings=settings).multi_turn()
    assert (cleared["scenario"], cleared["user_model"]) == (None, None)
    refused = client.post(url, data={"rounds": "0"}, headers=HX)
    assert refused.status_code == 422


def test_the_auto_dialog_plans_and_runs_conversations(
    client: TestClient, fake_server: FakeModelServer
) -> None:
    project_id = make_web_project(client, fake_server.url)
    assert "Multi-turn conversations" in client.get(f"/projects/{project_id}/distill").text
    form = {"topic": "Sports", "levels": "1", "tags_per_level": "2", "questions_per_tag": "1",
            "dataset_type": "multi"}  # fmt: skip

    plan = client.post(f"/projects/{project_id}/distill/auto/plan", data=form, headers=HX)

    assert "<strong>2</strong> conversations of <strong>10</strong> turns" in plan.text
    started = client.post(f"/projects/{project_id}/distill/auto/start", data=form, headers=HX)
    task_id = int(started.headers["HX-Redirect"].rsplit("/", 1)[1])
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events") as stream:
        last = [line for line in stream.iter_lines() if line.startswith("data: ")][-1]
    finished = json.loads(last[6:])
    assert finished["status"] == "succeeded"
    assert finished["counters"]["turns"] == {"planned": 10, "done": 10, "failed": 0, "skipped": 0}
    assert finished["counters"]["answers"]["planned"] == 0


def test_the_conversations_page_shows_turns_and_reviews_them(
    client: TestClient, settings: Settings, fake_server: FakeModelServer
) -> None:
    project_id = make_web_project(client, fake_server.url)
    project = Project("Sports", settings=settings)
    project.multi_turn(scenario="a first lesson", rounds=2)
    project.auto(levels=1, tags=1, questions=2, dataset_type="multi")
    first, second = (talk["id"] for talk in project.conversations())
    base = f"/projects/{project_id}/conversations"

    page = client.get(base).text

    assert page.count('class="turn turn-assistant"') == 4 and "Scenario: a first lesson" in page
    confirmed = client.post(f"{base}/{first}", data={"confirmed": "true"}, headers=HX).text
    assert 'class="ok" data-field="confirmed"' in confirmed
    scored = client.post(f"{base}/{first}", data={"score": "4.5"}, headers=HX).text
    assert "score 4.5" in scored
    edited = client.post(
        f"{base}/{first}/turns/1", data={"content": "A kinder reply.", "reasoning": ""}, headers=HX
    ).text
    assert "A kinder reply." in edited
    turn = project.conversation(first)["turns"][1]
    assert (turn["content"], turn["reasoning"]) == ("A kinder reply.", None)
    refused = client.post(f"{base}/{first}/turns/1", data={"content": " "}, headers=HX)
    assert refused.status_code == 422 and "cannot be empty" in refused.text
    deleted = client.post(f"{base}/{second}/delete", headers=HX)
    assert f"Conversation #{second} deleted." in deleted.text
    assert [talk["id"] for talk in project.conversations()] == [first]
