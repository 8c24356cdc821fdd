"""Browser tests of what a user must be able to trust: Start runs the plan the form shows, a
finished task's counts show without a reload, a label is stored as typed or refused with its
reason, and an export that matches nothing says so instead of saving an empty file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import Download, Page, expect

from distillset.testing import FakeModelServer

ProjectFactory = Callable[..., int]


def _api(live_server: str, method: str, path: str, **kwargs: Any) -> Any:
    with httpx.Client(base_url=f"{live_server}/api/v1", timeout=30) as api:
        response = api.request(method, path, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def _open_auto_dialog(page: Page, live_server: str, project_id: int) -> Any:
    page.goto(f"{live_server}/projects/{project_id}/distill")
    page.get_by_role("button", name="Auto distill…").click()
    return page.locator("#auto-dialog")


def _fill_plan_fields(dialog: Any, levels: int, tags: int, questions: int) -> None:
    form = dialog.locator("#auto-form")
    form.locator("[name=levels]").fill(str(levels))
    form.locator("[name=tags_per_level]").fill(str(tags))
    form.locator("[name=questions_per_tag]").fill(str(questions))


def test_start_runs_what_the_form_shows_not_the_last_plan(
    page: Page, live_server: str, project_factory: ProjectFactory
) -> None:
    project_id = project_factory("Sports")
    dialog = _open_auto_dialog(page, live_server, project_id)
    _fill_plan_fields(dialog, 1, 2, 1)
    dialog.get_by_role("button", name="Show the plan").click()
    expect(dialog.locator("#plan")).to_contain_text("will create 2 tags, 2 questions")

    # Other numbers, and Start at once: no "Show the plan" in between.
    _fill_plan_fields(dialog, 2, 3, 2)
    dialog.get_by_role("button", name="Start").click()
    page.wait_for_url("**/tasks/*")
    task_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".progress [data-field=status]")).to_have_text("succeeded")

    task = _api(live_server, "GET", f"/tasks/{task_id}")
    assert (task["params"]["levels"], task["params"]["tags_per_level"]) == (2, 3)
    assert task["params"]["questions_per_leaf"] == 2
    stats = _api(live_server, "GET", f"/projects/{project_id}")["stats"]
    # 3 tags with 3 sub-tags each; 2 questions for each of the 9 leaves, all answered.
    assert (stats["tags"], stats["questions"], stats["answers"]) == (12, 18, 18)


def test_the_plan_follows_the_fields_as_they_change(
    page: Page, live_server: str, project_factory: ProjectFactory
) -> None:
    dialog = _open_auto_dialog(page, live_server, project_factory("Sports"))
    _fill_plan_fields(dialog, 1, 2, 1)
    dialog.get_by_role("button", name="Show the plan").click()
    expect(dialog.locator("#plan")).to_contain_text("will create 2 tags, 2 questions")
    _fill_plan_fields(dialog, 2, 3, 2)
    plan = dialog.locator("#plan")
    expect(plan).to_contain_text("will create 12 tags, 18 questions and 18 answers")
    expect(plan).to_contain_text("For 2 levels × 3 tags per level, 2 questions per tag")


def test_a_finished_task_updates_the_tree_and_the_panel_without_a_reload(
    page: Page, live_server: str, project_factory: ProjectFactory
) -> None:
    project_id = project_factory("Sports")
    base = f"/projects/{project_id}"
    tag = _api(live_server, "POST", f"{base}/tags", json={"label": "Running"})
    _api(live_server, "POST", f"{base}/tags/{tag['id']}/questions/generate", json={"count": 2})

    page.goto(f"{live_server}{base}/distill")
    node_counts = page.locator(f"#tag-counts-{tag['id']}")
    expect(node_counts).to_have_text("0 sub-tags · 2 q · 0 answered")
    page.locator(f"#tag-label-{tag['id']}").click()
    detail = page.locator(f"#tag-detail-{tag['id']}")
    expect(detail.get_by_role("button", name="Generate answer")).to_have_count(2)

    detail.get_by_role("button", name="Answer all unanswered").click()
    expect(page.locator("#preview [data-field=status]")).to_have_text("succeeded")

    # No reload: the node, the panel's header and its questions follow the finished task.
    expect(node_counts).to_have_text("0 sub-tags · 2 q · 2 answered")
    expect(detail.locator(f"#detail-counts-{tag['id']}")).to_contain_text("2 answered")
    expect(detail.locator("li.question .ok")).to_have_count(2)
    expect(detail.get_by_role("button", name="Generate answer")).to_have_count(0)
    expect(detail.locator(f"#tag-delete-{tag['id']}")).to_have_attribute(
        "hx-confirm", "Delete Running with 0 sub-tags, 2 questions and 2 answers?"
    )


def test_a_label_with_the_path_separator_is_refused_with_its_reason(
    page: Page, live_server: str, project_factory: ProjectFactory
) -> None:
    project_id = project_factory("Sports")
    page.goto(f"{live_server}/projects/{project_id}/distill")
    add = page.locator("#add-top")
    for typed in ("<b>x</b>", "A > B"):
        add.locator("[name=label]").fill(typed)
        add.get_by_role("button", name="Add").click()
        error = page.locator("#add-top + [role=alert]")
        expect(error).to_contain_text("'>' separates the levels of a tag path")
        expect(error).to_contain_text(repr(typed))
        # What was typed stays in the field to be corrected; nothing was stored.
        expect(add.locator("[name=label]")).to_have_value(typed)
        expect(page.locator("#children-root > li.node")).to_have_count(0)

    # A label without '>' is stored exactly as typed, markup-like text included.
    add.locator("[name=label]").fill("x < y & <b")
    add.get_by_role("button", name="Add").click()
    node = page.locator("#children-root > li.node")
    expect(node).to_have_count(1)
    expect(node.locator(".label")).to_have_text("x < y & <b")
    expect(page.locator("[role=alert]")).to_have_count(0)

    # Renaming follows the same rule, in the tag's panel.
    node.locator(".label").click()
    rename = page.locator("#detail form", has_text="Rename")
    rename.locator("[name=label]").fill("A > B")
    rename.get_by_role("button", name="Rename").click()
    expect(rename.locator("+ [role=alert]")).to_contain_text("'>' separates the levels")
    expect(node.locator(".label")).to_have_text("x < y & <b")


def test_an_export_that_matches_nothing_says_so_and_keeps_the_form(
    page: Page, live_server: str, project_factory: ProjectFactory, fake_server: FakeModelServer
) -> None:
    project_id = project_factory("Sports")
    base = f"/projects/{project_id}"
    tag = _api(live_server, "POST", f"{base}/tags", json={"label": "Running"})
    _api(live_server, "POST", f"{base}/tags/{tag['id']}/questions/generate", json={"count": 1})
    _api(live_server, "POST", f"{base}/questions/1/answer")  # one record, not confirmed
    downloads: list[Download] = []
    page.on("download", lambda download: downloads.append(download))

    page.goto(f"{live_server}{base}/export")
    form = page.locator("#export-form")
    form.locator("[name=format]").select_option("sharegpt")
    form.locator("[name=confirmed_only]").check()
    form.get_by_role("button", name="Download").click()

    error = page.locator("#export-error")
    expect(error).to_have_text("no record matched the filters: there is nothing to download")
    expect(error).to_be_focused()
    form = page.locator("#export-form")
    expect(form.locator("[name=format]")).to_have_value("sharegpt")
    expect(form.locator("[name=confirmed_only]")).to_be_checked()
    expect(page.locator("header.top nav")).to_be_visible()
    assert downloads == []

    # Without the filter the one record downloads.
    form.locator("[name=confirmed_only]").uncheck()
    with page.expect_download() as download:
        form.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename.endswith(".jsonl")
