"""Browser tests of a task's own budget and of batch answers: a budget typed in the tag panel
pauses the task at it ("paused", budget reached) and its page resumes it with a higher one; a
bad budget is refused beside its form with what was typed kept; the batch checkbox shows only
for an answer endpoint set up for batches, elsewhere a note links to the field that sets it up.
Each state is checked with axe-core and at 390 px."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, ViewportSize, expect

from helpers import axe_problems, horizontal_overflow

ProjectFactory = Callable[..., int]
NARROW: ViewportSize = {"width": 390, "height": 844}


def _questions(live_server: str, project_id: int) -> int:
    """A tag with two unanswered questions, through the REST API; the tag's id."""
    with httpx.Client(base_url=f"{live_server}/api/v1", timeout=30) as api:
        tag = int(api.post(f"/projects/{project_id}/tags", json={"label": "Golf"}).json()["id"])
        made = api.post(f"/projects/{project_id}/tags/{tag}/questions/generate", json={"count": 2})
        assert made.status_code == 200, made.text
    return tag


def _set_endpoint(live_server: str, **fields: object) -> None:
    edited = httpx.patch(f"{live_server}/api/v1/endpoints/fake", json=fields)
    assert edited.status_code == 200, edited.text


def _task_status(live_server: str, task_id: str) -> str:
    return str(httpx.get(f"{live_server}/api/v1/tasks/{task_id}").json()["status"])


def _fits_and_passes_axe(page: Page, where: str) -> None:
    assert axe_problems(page) == [], where
    size = page.viewport_size
    page.set_viewport_size(NARROW)
    assert horizontal_overflow(page) == 0, f"{where} scrolls sideways at 390 px"
    if size is not None:
        page.set_viewport_size(size)


def test_a_budget_typed_in_the_tag_panel_pauses_the_task_and_its_page_resumes_it(
    page: Page, live_server: str, project_factory: ProjectFactory, problems: list[str]
) -> None:
    project_id = project_factory("Sports")
    tag = _questions(live_server, project_id)
    _set_endpoint(live_server, price_input_per_m=1000, price_output_per_m=1000)
    page.goto(f"{live_server}/projects/{project_id}/distill")
    page.locator(f"#tag-label-{tag}").click()
    form = page.locator(f"#answer-all-{tag}")
    form.get_by_label("Budget (max cost").fill("0.0001")
    _fits_and_passes_axe(page, "the tag panel")
    form.get_by_role("button", name="Answer all unanswered").click()
    progress = page.locator("#preview .progress")
    expect(progress.locator("[data-field=status]")).to_have_text("paused", timeout=20_000)
    expect(progress.locator("[data-field=error]")).to_contain_text("budget reached")
    task_id = progress.get_attribute("id").rsplit("-", 1)[1]  # type: ignore[union-attr]

    page.goto(f"{live_server}/projects/{project_id}/tasks/{task_id}")
    expect(page.locator("main")).to_contain_text("Paused at its budget")
    _fits_and_passes_axe(page, "a paused task's page")
    resume = page.locator("#resume-form")
    resume.get_by_label("Budget (max cost").fill("100")
    resume.get_by_role("button", name="Resume").click()
    expect(page.locator("[data-field=status]")).to_have_text("succeeded", timeout=20_000)
    for _ in range(100):  # the page's own stream says it; the row agrees
        if _task_status(live_server, task_id) == "succeeded":
            break
        time.sleep(0.05)
    assert _task_status(live_server, task_id) == "succeeded"
    assert [p for p in problems if "net::ERR_ABORTED" not in p] == [], problems


def test_a_bad_budget_is_refused_beside_its_form_with_the_value_kept(
    page: Page, live_server: str, project_factory: ProjectFactory, problems: list[str]
) -> None:
    project_id = project_factory("Sports")
    _questions(live_server, project_id)
    page.goto(f"{live_server}/projects/{project_id}/questions")
    form = page.locator("#answer-unanswered")
    budget = form.get_by_label("Budget (max cost")
    budget.fill("0")
    form.get_by_role("button", name="Answer unanswered").click()
    error = page.locator("#answer-unanswered + [data-error-box]")
    expect(error).to_contain_text("the budget (max cost) must be a number above 0")
    expect(error).to_be_focused()
    expect(budget).to_have_value("0")
    _fits_and_passes_axe(page, "the questions page with a refused budget")
    tasks = httpx.get(f"{live_server}/api/v1/projects/{project_id}/tasks").json()
    assert [t["kind"] for t in tasks] == ["questions"]  # the generation only: nothing started

    # In the auto-distill dialog the refusal shows in the dialog, beside its form.
    page.goto(f"{live_server}/projects/{project_id}/distill")
    page.get_by_role("button", name="Auto distill…").click()
    dialog = page.locator("#auto-dialog")
    dialog.get_by_label("Budget (max cost").fill("0")
    expect(dialog.locator("[data-error-box]")).to_contain_text("must be a number above 0")
    expect(dialog.get_by_label("Budget (max cost")).to_have_value("0")
    # What went wrong in the page is the refusals (each a 422 and its console line).
    assert problems and all("422" in p for p in problems), problems


def test_the_batch_checkbox_shows_only_for_an_endpoint_set_up_for_batches(
    page: Page, live_server: str, project_factory: ProjectFactory, problems: list[str]
) -> None:
    project_id = project_factory("Sports")
    tag = _questions(live_server, project_id)
    page.goto(f"{live_server}/projects/{project_id}/questions")
    form = page.locator("#answer-unanswered")
    expect(form.locator("[name=batch]")).to_have_count(0)
    note = form.locator(".batch-note")
    expect(note).to_contain_text("set up for the batch interface")
    _fits_and_passes_axe(page, "the questions page without batches")
    note.get_by_role("link", name="set its batch discount").click()
    # The link opens the endpoint's settings at the field, focused.
    field = page.locator("#batch_discount-fake")
    expect(field).to_be_focused()
    field.fill("0.5")
    field.locator("xpath=ancestor::form").get_by_role("button", name="Save endpoint").click()
    expect(page.locator("#endpoints")).to_contain_text("saved")

    page.goto(f"{live_server}/projects/{project_id}/questions")
    expect(form.locator(".batch-note")).to_have_count(0)
    form.get_by_label("batch").check()
    _fits_and_passes_axe(page, "the questions page with batches")
    page.goto(f"{live_server}/projects/{project_id}/distill")
    page.locator(f"#tag-label-{tag}").click()
    expect(page.locator(f"#answer-all-{tag} [name=batch]")).to_have_count(1)
    page.get_by_role("button", name="Auto distill…").click()
    expect(page.locator("#auto-form [name=batch_answers]")).to_have_count(1)
    assert problems == [], problems
