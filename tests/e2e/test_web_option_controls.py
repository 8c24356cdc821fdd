"""Browser tests of the controls for the CLI's newer options: the auto-distill dialog's
temperature and batch answers, choosing samples and rating difficulty on the dataset page,
and scoring a record's tokens (its refusal beside the form, focused)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from distillset.testing import FakeModelServer

ProjectFactory = Callable[..., int]


def _answered(live_server: str, project_id: int, samples: int = 1) -> None:
    """A tag with two questions, each answered ``samples`` times, through the REST API."""
    with httpx.Client(base_url=f"{live_server}/api/v1", timeout=30) as api:
        tag = api.post(f"/projects/{project_id}/tags", json={"label": "Golf"}).json()["id"]
        api.post(f"/projects/{project_id}/tags/{tag}/questions/generate", json={"count": 2})
        body = {"samples": samples, "temperature": 0.7} if samples > 1 else {}
        task = api.post(f"/projects/{project_id}/tasks/answers", json=body).json()["task_id"]
        for _ in range(200):
            if api.get(f"/tasks/{task}").json()["status"] == "succeeded":
                return
            time.sleep(0.05)
    raise AssertionError("the answers task did not finish")


def test_the_auto_dialog_starts_what_its_temperature_and_batch_fields_say(
    page: Page, live_server: str, project_factory: ProjectFactory
) -> None:
    project_id = project_factory("Sports")
    # Batch answers are offered for an answer endpoint set up for them.
    edited = httpx.patch(f"{live_server}/api/v1/endpoints/fake", json={"batch_discount": 0.5})
    assert edited.status_code == 200, edited.text
    page.goto(f"{live_server}/projects/{project_id}/distill")
    page.get_by_role("button", name="Auto distill…").click()
    dialog = page.locator("#auto-dialog")
    form = dialog.locator("#auto-form")
    form.get_by_label("Levels").fill("1")
    form.get_by_label("Tags per level").fill("1")
    form.get_by_label("Questions per tag").fill("1")
    form.get_by_label("Answers per question").fill("2")
    form.get_by_label("Temperature of the answers").fill("0.5")
    form.get_by_label("Answer through the batch interface").check()
    expect(dialog.locator("#plan")).to_contain_text("2 answers")
    dialog.get_by_role("button", name="Start").click()
    page.wait_for_url("**/tasks/*")
    task_id = page.url.rsplit("/", 1)[1]
    params = httpx.get(f"{live_server}/api/v1/tasks/{task_id}").json()["params"]
    assert params["batch_answers"] is True and params["temperature"] == 0.5, params


def test_the_dataset_page_chooses_samples_by_vote_and_rates_difficulty(
    page: Page, live_server: str, project_factory: ProjectFactory, problems: list[str]
) -> None:
    project_id = project_factory("Sports")
    _answered(live_server, project_id, samples=2)
    page.goto(f"{live_server}/projects/{project_id}/dataset")
    page.locator("#sample-actions > summary").click()
    choose = page.locator("#select-form")
    choose.get_by_label("Choose the best sample").select_option("consistency")
    choose.get_by_role("button", name="Choose best samples").click()
    expect(page.locator("#bulk-result")).to_contain_text("by majority vote")
    expect(page.locator("[data-field=chosen]").first).to_contain_text("chosen (consistency)")

    page.locator("#rate-form").get_by_role("button", name="Rate difficulty").click()
    page.wait_for_url("**/tasks/*")
    expect(page.locator("body")).to_contain_text("succeeded", timeout=20_000)
    page.goto(f"{live_server}/projects/{project_id}/dataset")
    expect(page.locator("[data-field=difficulty]").first).to_contain_text("/10")
    # (A request cut short by leaving the task page is no problem of the page.)
    assert [p for p in problems if "net::ERR_ABORTED" not in p] == [], problems


def test_a_record_that_cannot_be_scored_says_why_beside_the_form(
    page: Page,
    live_server: str,
    project_factory: ProjectFactory,
    fake_server: FakeModelServer,
    problems: list[str],
) -> None:
    project_id = project_factory("Sports")
    _answered(live_server, project_id)
    record = httpx.get(f"{live_server}/api/v1/projects/{project_id}/records").json()["records"][0]
    fake_server.configure(scores_prompts=False)  # as llama.cpp: prompt_logprobs ignored
    page.goto(f"{live_server}/projects/{project_id}/dataset/{record['id']}")
    form = page.locator("#score-tokens")
    form.get_by_role("button", name="Score tokens").click()
    error = page.locator("#score-tokens + [role=alert]")
    expect(error).to_contain_text("cannot score given text")
    expect(error).to_be_focused()
    # The refusal (422) is expected; no script failed on it.
    assert [p for p in problems if p.startswith("page error")] == []

    fake_server.configure(scores_prompts=True)
    form.get_by_role("button", name="Score tokens").click()
    page.wait_for_url("**/tasks/*")
    expect(page.locator("body")).to_contain_text("succeeded", timeout=20_000)
    page.goto(f"{live_server}/projects/{project_id}/dataset/{record['id']}")
    expect(page.locator("[data-tokens=answer] .tok").first).to_be_visible()
