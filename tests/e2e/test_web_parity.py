"""Browser tests of what the command line can do, done in the browser: questions management,
bulk review, labels, judge scoring, duplicates, the export page's zips, dataset import, and
live tree counts while a task runs."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

from playwright.sync_api import Page, expect

from distillset.domain import Origin, text_hash
from distillset.store import Project, Question, Store, Tag
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from helpers import add_record, make_project


def _seed(store: Store, fake_url: str, **settings: object) -> int:
    project_id = make_project(store, fake_url, "Sports", **settings)
    with store.session() as session:
        project = session.get(Project, project_id)
        assert project is not None
        football = add_tag_path(session, project, "Ball games > Football", Origin.MANUAL)
        running = add_tag_path(session, project, "Running", Origin.MANUAL)
        for index in range(3):
            add_record(session, project, football, f"Offside {index}?", f"Rule {index}.")
        add_record(session, project, running, "Pace?", "Steady.")
        add_record(session, project, running, "Pace again?", "Steady.")
    return project_id


def test_questions_and_dataset_management(
    page: Page,
    live_server: str,
    store: Store,
    fake_server: FakeModelServer,
    artifacts: Path,
    problems: list[str],
) -> None:
    project_id = _seed(store, fake_server.url)
    p = page

    # Questions: edit one, delete one, move the checked ones.
    p.goto(f"{live_server}/projects/{project_id}/questions")
    row = p.locator("#question-row-1")
    row.get_by_text("Edit").click()
    row.locator("[name=text]").fill("Offside, explained?")
    row.get_by_role("button", name="Save").click()
    expect(p.locator("#question-row-1 .text")).to_have_text("Offside, explained?")
    p.get_by_role("button", name="Delete question 2").click()  # the confirm is accepted
    expect(p.locator("#question-list")).to_contain_text("Question #2 deleted with 1 answers.")
    p.get_by_label("Select question 3").check()
    p.locator("#question-bulk [name=to_tag]").fill("Running")
    p.locator("#question-bulk").get_by_role("button", name="Move").click()
    expect(p.locator("#bulk-result")).to_have_text("Moved 1 questions under Running.")

    # Dataset: check two records, confirm them; label every record of the filter.
    p.goto(f"{live_server}/projects/{project_id}/dataset")
    p.get_by_label("Select record 1").check()
    p.get_by_label("Select record 3").check()
    p.locator("#record-bulk").get_by_role("button", name="Confirm", exact=True).click()
    expect(p.locator("#bulk-result")).to_have_text("Confirmed 2 records.")
    expect(p.locator("#record-1 [data-field=confirmed]")).to_have_text("confirmed")
    p.goto(f"{live_server}/projects/{project_id}/dataset?tag=Running")
    bulk = p.locator("#record-bulk")
    bulk.locator("[name=scope]").select_option("filter")
    bulk.locator("[name=label_text]").fill("endurance")
    bulk.get_by_role("button", name="Add label").click()
    expect(p.locator("#bulk-result")).to_contain_text("Labelled 3 records")
    expect(p.locator("#records .labels").first).to_contain_text("endurance")
    # One record's labels, typed.
    record = p.locator("#record-5")
    record.locator("[name=labels]").fill("endurance, checked")
    record.get_by_role("button", name="Save labels").click()
    expect(p.locator("#record-5 .labels")).to_contain_text("checked")

    # Duplicates: the two "Steady." answers under Running; label the second.
    p.get_by_role("link", name="Duplicates…").click()
    p.wait_for_url("**/dataset/duplicates**")
    p.wait_for_load_state()
    expect(p.locator("#duplicate-groups")).to_contain_text("Steady.")
    p.get_by_role("button", name="Label duplicates").click()
    expect(p.locator("#duplicates-result")).to_contain_text("Labelled 1 duplicate records")

    # Judge: scores the filter's records as a task, followed on its page.
    p.goto(f"{live_server}/projects/{project_id}/dataset?tag=Running")
    p.get_by_role("button", name="Score with the judge").click()
    p.wait_for_url("**/tasks/*")
    expect(p.locator("[data-field=status]")).to_have_text("succeeded")
    expect(p.locator("[data-stage=judged]")).to_have_text("3 / 3 done, 0 failed")
    p.goto(f"{live_server}/projects/{project_id}/dataset?tag=Running")
    expect(p.locator("#records")).not_to_contain_text("score –")
    p.screenshot(path=str(artifacts / "dataset-review.png"), full_page=True)
    assert problems == []


def test_export_zip_and_dataset_import(
    page: Page, live_server: str, store: Store, fake_server: FakeModelServer, tmp_path: Path,
    problems: list[str],
) -> None:  # fmt: skip
    project_id = _seed(store, fake_server.url)
    p = page
    p.goto(f"{live_server}/projects/{project_id}/export")
    form = p.locator("#export-form")
    form.locator("[name=split]").fill("eval=0.4")
    form.locator("[name=package]").select_option("zip")
    form.locator("[name=system]").fill("Be brief.")
    with p.expect_download() as download:
        form.get_by_role("button", name="Download").click()
    bundle = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert len(bundle.namelist()) == 2
    form.locator("[name=package]").select_option("llamafactory")
    form.locator("[name=format]").select_option("sharegpt")
    form.locator("[name=file_format]").select_option("json")
    with p.expect_download() as download:
        form.get_by_role("button", name="Download").click()
    names = zipfile.ZipFile(Path(download.value.path())).namelist()
    assert "dataset_info.json" in names

    # Import: an Alpaca file under a tag named by its path.
    source = tmp_path / "more.jsonl"
    rows = [{"instruction": f"Serve {i}?", "output": f"Toss {i}."} for i in range(4)]
    source.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    p.goto(f"{live_server}/projects/{project_id}/dataset/import")
    upload = p.locator("#dataset-import")
    upload.locator("[name=file]").set_input_files(str(source))
    upload.locator("[name=tag]").fill("Ball games")
    upload.get_by_role("button", name="Import").click()
    expect(p.locator("#import-result")).to_contain_text("4 new questions, 4 answers")
    expect(p.locator("#import-result")).to_contain_text("under Ball games")
    # A form's navigation that turns into a download ends, for Chromium, as an aborted load.
    downloads = [x for x in problems if "/export/file?" in x and x.endswith("(net::ERR_ABORTED)")]
    assert [x for x in problems if x not in downloads] == []


def test_tree_counts_follow_a_running_task(
    page: Page, live_server: str, store: Store, fake_server: FakeModelServer, problems: list[str]
) -> None:
    project_id = make_project(store, fake_server.url, "Sports", max_concurrency=1)
    with store.session() as session:
        project = session.get(Project, project_id)
        assert project is not None
        tag = add_tag_path(session, project, "Running", Origin.MANUAL)
        for index in range(5):
            text = f"Pace {index}?"
            session.add(
                Question(project_id=project_id, tag_id=tag.id, text=text, text_hash=text_hash(text))
            )
        session.flush()
        tag_id = tag.id
        assert session.get(Tag, tag_id) is not None
    fake_server.configure(latency=0.6)
    try:
        p = page
        p.goto(f"{live_server}/projects/{project_id}/distill")
        p.locator(f"#tag-label-{tag_id}").click()
        p.get_by_role("button", name="Answer all unanswered").click()
        counts = p.locator(f"#tag-counts-{tag_id}")
        seen: set[str] = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            seen.add(counts.inner_text())
            if counts.inner_text().endswith("5 answered"):
                break
            p.wait_for_timeout(100)
        # Counts between none and all were shown while the task ran (not only at its end).
        partial = tuple(f"{n} answered" for n in range(1, 5))
        between = {text for text in seen if text.endswith(partial)}
        assert between, seen
        expect(counts).to_have_text("0 sub-tags · 5 q · 5 answered")
        # The event list says what the run was working on.
        expect(p.locator("#preview .events")).to_contain_text("working on answer to question")
    finally:
        fake_server.configure(latency=0.0)
    assert problems == []
