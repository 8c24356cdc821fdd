"""Browser tests of errors: each shows beside the control that caused it (inside the open
dialog), takes the focus, and goes at the next action; an ordinary mistake in a form keeps the
page, the form and what was typed, never a dead-end error page."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

ProjectFactory = Callable[..., int]


def test_a_refused_prompt_override_shows_beside_its_form_in_view(
    page: Page, live_server: str, project_factory: ProjectFactory
) -> None:
    project_id = project_factory("Sports")
    page.goto(f"{live_server}/projects/{project_id}/settings")
    prompt = page.locator("#prompt-judge")
    prompt.locator("summary").click()
    prompt.locator("[name=template]").fill("Score this: {question}")  # {answer} is required
    prompt.get_by_role("button", name="Save override").click()

    error = prompt.locator("form + [role=alert]")
    expect(error).to_contain_text("must contain the placeholder(s) {answer}")
    expect(error).to_be_in_viewport()
    expect(error).to_be_focused()
    # The template typed is still there to be corrected.
    expect(prompt.locator("[name=template]")).to_have_value("Score this: {question}")


def test_a_refused_plan_shows_in_the_dialog_not_behind_it(
    page: Page, live_server: str, project_factory: ProjectFactory
) -> None:
    project_id = project_factory("Sports")
    with httpx.Client(base_url=f"{live_server}/api/v1") as api:
        api.post(f"/projects/{project_id}/tags", json={"label": "Running"}).raise_for_status()
    page.goto(f"{live_server}/projects/{project_id}/distill")
    page.get_by_role("button", name="Auto distill…").click()
    dialog = page.locator("#auto-dialog")
    dialog.locator("#auto-form [name=topic]").fill("Chess")  # another topic on a tree
    dialog.get_by_role("button", name="Show the plan").click()

    error = dialog.locator("[role=alert]")
    expect(error).to_contain_text("already has a tree under the topic")
    expect(error).to_be_visible()
    expect(error).to_be_focused()
    expect(page.locator("#messages")).to_be_empty()

    # The next action takes the error away: here the topic corrected in the same dialog.
    dialog.locator("#auto-form [name=topic]").fill("Sports")
    expect(dialog.locator("#plan")).to_contain_text("this run will create")
    expect(dialog.locator("[role=alert]")).to_have_count(0)


def test_an_old_error_does_not_stay_beside_the_next_success(
    page: Page, live_server: str, project_factory: ProjectFactory
) -> None:
    project_id = project_factory("Sports")
    page.goto(f"{live_server}/projects/{project_id}/distill")
    add = page.locator("#add-top")
    for label in ("Running", "running"):
        add.locator("[name=label]").fill(label)
        add.get_by_role("button", name="Add").click()
    expect(page.get_by_role("alert")).to_contain_text("already exists")
    # The refusal ends the wait: no "Working…" left in the reply's place, the button back.
    expect(page.locator("#preview")).not_to_contain_text("Working")
    expect(page.locator("#preview")).not_to_have_attribute("aria-busy", "true")
    expect(add.get_by_role("button", name="Add")).to_be_enabled()

    add.locator("[name=label]").fill("Cycling")
    add.get_by_role("button", name="Add").click()
    expect(page.locator("#preview")).to_contain_text("Cycling")
    expect(page.locator("[role=alert]")).to_have_count(0)
    expect(page.locator("#messages")).to_be_empty()


def test_a_refused_project_name_keeps_the_form_and_says_why(
    page: Page, live_server: str, project_factory: ProjectFactory
) -> None:
    project_factory("Sports")
    page.goto(live_server)
    form = page.locator("form[action='/projects']")
    for typed, reason in (("Sports", "already exists"), ("   ", "cannot be blank")):
        form.locator("[name=name]").fill(typed)
        form.get_by_role("button", name="Create").click()
        error = page.locator("form[action='/projects'] + [role=alert]")
        expect(error).to_contain_text(reason)
        expect(error).to_be_focused()
        expect(page.get_by_role("heading", name="Projects")).to_be_visible()
        expect(page.locator("#project-list")).to_contain_text("Sports")
        expect(form.locator("[name=name]")).to_have_value(typed)
        expect(page.get_by_text("Something went wrong")).to_have_count(0)


def test_a_mistyped_filter_keeps_the_page_and_its_filters(
    page: Page, live_server: str, project_factory: ProjectFactory
) -> None:
    project_id = project_factory("Sports")
    base = f"{live_server}/projects/{project_id}"
    for path, form_id in (("questions", "#question-filters"), ("dataset", "#record-filters")):
        page.goto(f"{base}/{path}")
        filters = page.locator(form_id)
        filters.locator("[name=tag]").fill("Runing")
        filters.locator("[name=q]").fill("pace")
        filters.get_by_role("button", name="Filter").click()
        error = page.locator("#filter-error")
        expect(error).to_contain_text("no tag 'Runing'")
        expect(error).to_be_focused()
        expect(filters.locator("[name=tag]")).to_have_value("Runing")
        expect(filters.locator("[name=q]")).to_have_value("pace")
        expect(page.locator("header.top nav a.active")).to_have_text(path.capitalize())
        expect(page.get_by_text("Something went wrong")).to_have_count(0)

    # A score out of range (typed into the address, as the form's own check stops it there).
    page.goto(f"{base}/dataset?min_score=9&confirmed=yes")
    expect(page.locator("#filter-error")).to_have_text("min score must be between 0 and 5")
    filters = page.locator("#record-filters")
    expect(filters.locator("[name=min_score]")).to_have_value("9")
    expect(filters.locator("[name=confirmed]")).to_have_value("yes")
