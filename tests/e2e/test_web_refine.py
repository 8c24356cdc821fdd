"""Browser test: refine a record with advice in the dataset view, see its history, restore
the earlier text (real pages in headless Chromium, real server, fake model over HTTP)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from distillset.domain import Origin
from distillset.projects.endpoints import add_endpoint
from distillset.projects.lifecycle import create_project
from distillset.store import Store
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from helpers import add_record

ADVICE = "cite the rule book section"


def test_refine_and_restore_a_record_in_the_browser(
    page: Page,
    live_server: str,
    store: Store,
    fake_server: FakeModelServer,
    dialogs: list[str],
    problems: list[str],
    artifacts: Path,
) -> None:
    with store.session() as session:
        endpoint = add_endpoint(session, "teacher", model="fake-model", base_url=fake_server.url)
        project = create_project(session, "Sports")
        project.answer_model = endpoint
        tag = add_tag_path(session, project, "Football", Origin.MANUAL)
        row = add_record(
            session, project, tag, "What is offside?", "Original answer.", reasoning="Old."
        )
        session.flush()
        project_id, record_id = project.id, row.id
    p = page
    p.goto(f"{live_server}/projects/{project_id}/dataset")
    record = p.locator(f"#record-{record_id}")
    expect(record.locator(f"#answer-{record_id} pre.raw")).to_have_text("Original answer.")

    # Refine with advice: the record shows the teacher's rewrite in place.
    record.locator("details.refine summary").click()
    record.locator("textarea[name=advice]").fill(ADVICE)
    record.get_by_role("button", name="Refine").click()
    record = p.locator(f"#record-{record_id}")
    expect(record.locator(f"#answer-{record_id} pre.raw")).to_contain_text(ADVICE)
    expect(record.locator(".message")).to_contain_text("Refined")
    assert fake_server.stats().by_kind == {"refine": 1}

    # The history lists the earlier text, and restoring it brings it back.
    record.get_by_role("button", name="History").click()
    version = record.locator(".version[data-version='1']")
    expect(version.locator("pre.answer")).to_have_text("Original answer.")
    expect(version).to_contain_text(f"refined: {ADVICE}")
    p.screenshot(path=str(artifacts / "record-history.png"), full_page=True)
    version.get_by_role("button", name="Restore version 1").click()
    record = p.locator(f"#record-{record_id}")
    expect(record.locator(".message")).to_contain_text("Version 1 restored")
    assert problems == []
    expect(record.locator(f"#answer-{record_id} pre.raw")).to_have_text("Original answer.")

    # The refined text was not lost: it is version 2, and survives a reload.
    p.reload()
    record = p.locator(f"#record-{record_id}")
    record.get_by_role("button", name="History").click()
    expect(record.locator(".version[data-version='2'] pre.answer")).to_contain_text(ADVICE)
    assert dialogs == [] and problems == []
