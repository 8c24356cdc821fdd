"""Browser tests: the real pages in headless Chromium against a real server and fake model.

The system Chromium is driven by Playwright's Python package (never a downloaded browser).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from distillset.config import Settings
from distillset.domain import Origin
from distillset.kinds import run_task
from distillset.projects.endpoints import add_endpoint
from distillset.projects.lifecycle import create_project
from distillset.review.filters import RecordFilter
from distillset.review.judge import create_judge_task
from distillset.store import Store
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from helpers import add_record

WireFakeModel = Callable[[Page, str], None]


def test_distill_workflow_in_the_browser(
    page: Page,
    live_server: str,
    fake_server: FakeModelServer,
    dialogs: list[str],
    wire_fake_model: WireFakeModel,
    artifacts: Path,
) -> None:
    p = page

    p.goto(live_server)
    p.locator("input[name=name]").fill("Physical Education and Sports")
    p.get_by_role("button", name="Create").click()
    p.wait_for_url("**/projects/1/distill")
    wire_fake_model(p, fake_server.url)

    # Generate top-level tags; the preview lists them and the tree shows them.
    p.goto(f"{live_server}/projects/1/distill")
    top = p.locator("#generate-top")
    top.locator("[name=count]").fill("3")
    top.get_by_role("button", name="Generate top-level tags").click()
    expect(p.locator("#preview")).to_contain_text("Created 3 of 3 tags")
    expect(p.locator("#children-root > li.node")).to_have_count(3)

    # Open the first tag and add two sub-tags to it.
    p.locator("#tag-1 .label").first.click()
    detail = p.locator("#detail")
    expect(detail.locator("#tag-detail-1")).to_be_visible()
    detail.locator("form", has_text="Add sub-tags").locator("[name=count]").fill("2")
    detail.get_by_role("button", name="Add sub-tags").click()
    expect(p.locator("#preview")).to_contain_text("Created 2 of 2 tags")
    sub_tags = p.locator("#children-1 > li.node")
    expect(sub_tags).to_have_count(2)

    # Questions for the first sub-tag, then one answer.
    sub_tag_id = sub_tags.first.get_attribute("data-tag-id")
    sub_tags.first.locator(".label").click()
    # Wait for this tag's own panel: the previous one has the same forms.
    expect(detail.locator(f"#tag-detail-{sub_tag_id}")).to_be_visible()
    detail.locator("form", has_text="Generate questions").locator("[name=count]").fill("2")
    detail.get_by_role("button", name="Generate questions").click()
    expect(p.locator("#preview")).to_contain_text("Created 2 of 2 questions")
    questions = detail.locator("li.question")
    expect(questions).to_have_count(2)
    node_counts = p.locator(f"#tag-{sub_tag_id} .counts").first
    expect(node_counts).to_contain_text("2 q · 0 answered")
    questions.first.get_by_role("button", name="Generate answer").click()
    expect(detail.locator("li.question").first.locator(".ok")).to_have_text("answered")
    # The tag's counts follow the answer in the tree and in the panel's header.
    expect(node_counts).to_contain_text("2 q · 1 answered")
    expect(detail.locator(".tag-detail > p.muted")).to_contain_text("2 questions · 1 answered")
    # "New sample" asks the model again rather than reusing the stored reply.
    sent = fake_server.stats().total
    with p.expect_response(lambda r: r.url.endswith("/answer")) as resampled:
        detail.locator("li.question").first.get_by_role("button", name="New sample").click()
    assert resampled.value.ok and fake_server.stats().total == sent + 1
    expect(detail.locator("li.question").first.locator(".ok")).to_have_text("answered")
    p.screenshot(path=str(artifacts / "distill-page.png"), full_page=True)

    # Rename: the panel stays usable under the new label and the tree node follows.
    rename = detail.locator("form", has_text="Rename")
    rename.locator("[name=label]").fill("Renamed sub-tag")
    rename.get_by_role("button", name="Rename").click()
    expect(p.locator("#preview")).to_contain_text("Renamed")
    expect(detail.locator(".path")).to_have_text(re.compile(r" > Renamed sub-tag$"))
    expect(detail.get_by_role("button", name="Generate questions")).to_be_visible()
    expect(detail.locator("li.question")).to_have_count(2)
    expect(p.locator(f"#tag-{sub_tag_id} .label").first).to_have_text("Renamed sub-tag")

    # Auto distill: the plan first, then the live progress view reaching the end.
    p.get_by_role("button", name="Auto distill…").click()
    dialog = p.locator("#auto-dialog")
    dialog.locator("[name=levels]").fill("2")
    dialog.locator("[name=tags_per_level]").fill("3")
    dialog.locator("[name=questions_per_tag]").fill("2")
    dialog.get_by_role("button", name="Show the plan").click()
    expect(dialog.locator("#plan")).to_contain_text("this run will create")
    fake_server.configure(latency=0.2)  # slow enough that the run outlives a page change
    dialog.get_by_role("button", name="Start").click()
    p.wait_for_url("**/projects/1/tasks/*")
    task_url = p.url
    # Leaving the page does not stop the run: it is a task of the server.
    p.goto(f"{live_server}/projects/1/questions")
    p.goto(task_url)
    expect(p.locator("p.muted").first).to_contain_text(
        re.compile(r"Created \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
    )
    progress = p.locator(".progress")
    expect(progress.locator("[data-field=status]")).to_have_text("succeeded", timeout=60_000)
    expect(progress.locator("[data-field=percent]")).to_have_text("100%")
    expect(progress.locator("[data-stage=answers]")).to_contain_text("0 failed")
    expect(progress.locator(".events li").first).to_be_visible()
    # The fake endpoint has no prices: the cost is unknown, as the plan said, not $0.
    expect(progress.locator("[data-field=cost]")).to_have_text("unknown")
    # The bar widens in a 0.3 s transition: wait until it fills its track.
    p.wait_for_function(
        """() => {
            const track = document.querySelector(".progress .bar");
            const fill = track.querySelector("span");
            return fill.getAnimations().length === 0
                && getComputedStyle(fill).width === getComputedStyle(track).width;
        }"""
    )
    p.screenshot(path=str(artifacts / "progress-view.png"), full_page=True)
    fake_server.configure(latency=0.0)

    # Review: confirm one record.
    p.goto(f"{live_server}/projects/1/dataset")
    record = p.locator("article.record").first
    record.get_by_role("button", name="Confirm").click()
    expect(p.locator("article.record").first.locator("[data-field=confirmed]")).to_have_text(
        "confirmed"
    )

    # Export the confirmed record and download the file.
    p.goto(f"{live_server}/projects/1/export")
    form = p.locator("#export-form")
    form.locator("[name=format]").select_option("alpaca")
    form.locator("[name=file_format]").select_option("jsonl")
    form.locator("[name=confirmed_only]").check()
    with p.expect_download() as download_info:
        form.get_by_role("button", name="Download").click()
    download = download_info.value
    target = artifacts / download.suggested_filename
    download.save_as(str(target))
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 1 and rows[0]["instruction"] and rows[0]["output"]
    assert dialogs == []


def test_markup_in_a_label_renders_as_text(
    page: Page, live_server: str, dialogs: list[str]
) -> None:
    # No label holds '>' (it separates a path's levels), but an unclosed tag would still run
    # its handler if the page wrote it unescaped: `<img src=x onerror=...` ends at the next '>'.
    with httpx.Client(base_url=live_server) as api:
        project = api.post("/api/v1/projects", json={"name": "Safety"}).json()
        label = "<img src=x onerror=alert(1) title="
        tag = api.post(f"/api/v1/projects/{project['id']}/tags", json={"label": label}).json()
    p = page
    p.goto(f"{live_server}/projects/{project['id']}/distill")
    shown = p.locator(f"#tag-{tag['id']} .label")
    expect(shown).to_have_text(label)
    shown.click()
    expect(p.locator("#detail .path")).to_have_text(label)
    assert p.locator("#children-root img, #detail img").count() == 0
    assert dialogs == []


def test_a_judge_task_page_follows_its_judged_records(
    page: Page, live_server: str, settings: Settings, store: Store, fake_server: FakeModelServer
) -> None:
    """app.js draws the stages the task's kind declares: a judge task's judged records."""
    with store.session() as session:
        add_endpoint(session, "judge", model="fake-model", base_url=fake_server.url)
        project = create_project(session, "Sports")
        tag = add_tag_path(session, project, "Running", Origin.MANUAL)
        for index in range(3):
            add_record(session, project, tag, f"Question {index}?", f"Answer {index}.")
        session.flush()
        task = create_judge_task(session, project, model="judge", record_filter=RecordFilter())
        project_id, task_id = project.id, task.id
    page.goto(f"{live_server}/projects/{project_id}/tasks/{task_id}")
    progress = page.locator(".progress")
    expect(progress.locator("[data-stage=judged]")).to_have_text("0 / 3 done, 0 failed")
    expect(progress.locator("[data-stage=tags]")).to_have_count(0)

    # Run it beside the open page (in a thread of its own, away from the browser's loop):
    # the page follows the run through its stream.
    run = threading.Thread(target=lambda: asyncio.run(run_task(store, settings, task_id)))
    run.start()
    run.join(timeout=60)

    expect(progress.locator("[data-field=status]")).to_have_text("succeeded")
    expect(progress.locator("[data-stage=judged]")).to_have_text("3 / 3 done, 0 failed")
    expect(progress.locator("[data-field=percent]")).to_have_text("100%")
