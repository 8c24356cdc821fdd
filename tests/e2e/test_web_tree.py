"""Browser tests of the workbench tree: subtree counts, leaves, the selected tag, search and
jump, the per-tag menu from the keyboard, expansion kept across edits, and the tree's export."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from distillset.domain import Origin, text_hash
from distillset.projects.lifecycle import create_project
from distillset.store import Question, Store, Tag
from distillset.tags.tree import add_tag_path
from helpers import add_record

WIDE = 230  # more top-level tags than one page of the tree shows


def _seed(store: Store) -> dict[str, int]:
    with store.session() as session:
        project = create_project(session, "Sports")
        rules = add_tag_path(session, project, "Ball games > Football > Rules", Origin.MANUAL)
        tennis = add_tag_path(session, project, "Ball games > Tennis", Origin.MANUAL)
        running = add_tag_path(session, project, "Running", Origin.MANUAL)
        add_record(session, project, rules, "Offside?", "A rule.")
        add_record(session, project, tennis, "Deuce?", "40-40.")
        session.add(
            Question(
                project_id=project.id, tag_id=tennis.id, text="Let?", text_hash=text_hash("Let?")
            )
        )
        for index in range(WIDE):
            add_tag_path(session, project, f"Sport {index:03d}", Origin.MANUAL)
        session.flush()
        ball = session.get(Tag, tennis.parent_id)
        assert ball is not None
        far = session.query(Tag).filter_by(label="Sport 225").one()
        return {"ball": ball.id, "tennis": tennis.id, "running": running.id, "far": far.id}


def test_tree_counts_search_menu_and_export(
    page: Page, live_server: str, store: Store, artifacts: Path, problems: list[str]
) -> None:
    ids = _seed(store)
    p = page
    p.goto(f"{live_server}/projects/1/distill")

    # Subtree counts beside the tag's own; a leaf has no triangle (no details to open).
    ball = p.locator(f"#tag-{ids['ball']}")
    expect(ball.locator(".counts").first).to_have_text("2 sub-tags · 0 q · 0 answered")
    expect(p.locator(f"#tag-subtree-{ids['ball']}")).to_have_text(
        " · subtree: 3 tags, 3 q, 2 answered"
    )
    expect(p.locator(f"#tag-{ids['running']} details")).to_have_count(0)
    expect(p.locator(f"#tag-{ids['running']}")).to_have_attribute("data-leaf", "")

    # Jump to a tag beyond the first page: the tree opens at it, selected, with its panel.
    search = p.locator("#tag-search [name=q]")
    search.fill("sport 22")
    results = p.locator("#tag-search-results .tag-jump")
    expect(results).to_have_count(10)
    p.get_by_role("button", name="Sport 225").click()
    expect(p.locator(f"#tag-detail-{ids['far']}")).to_be_visible()
    expect(p.locator(f"#tag-label-{ids['far']}")).to_have_attribute("aria-current", "true")
    expect(p.locator(f"#tag-label-{ids['far']}")).to_be_in_viewport()
    expect(p.get_by_role("button", name="Earlier tags…")).to_be_visible()
    p.get_by_role("button", name="Earlier tags…").click()
    expect(ball).to_be_visible()

    # Open Ball games and Football; adding a top-level tag keeps both open and clears the input.
    # The triangle, at the summary's start (its middle may be the menu button).
    ball.locator("summary").first.click(position={"x": 4, "y": 8})
    football = ball.locator("li.node", has_text="Football").first
    football.locator("summary").first.click(position={"x": 4, "y": 8})
    expect(football.locator("li.node", has_text="Rules")).to_be_visible()
    expect(football.locator(".subtree").first).to_contain_text("subtree: 1 tags, 1 q, 1 answered")
    add_top = p.locator("#add-top [name=label]")
    add_top.fill("Swimming")
    p.locator("#add-top").get_by_role("button", name="Add").click()
    expect(p.locator("#preview")).to_contain_text("Added by hand")
    expect(add_top).to_have_value("")
    # Open again level by level (each level's children load first): a slower chain.
    expect(football.locator("li.node", has_text="Rules")).to_be_visible(timeout=15_000)
    expect(p.locator(f"#tag-{ids['ball']} > details")).to_have_attribute("open", "")

    # The per-tag menu from the keyboard: rename Tennis, then move it under Running.
    menu_button = p.get_by_role("button", name="Actions for Tennis")
    menu_button.focus()
    p.keyboard.press("Enter")
    dialog = p.locator("#tag-menu")
    expect(dialog).to_be_visible()
    dialog.locator("form", has_text="Rename").locator("[name=label]").fill("Tennis 2")
    dialog.get_by_role("button", name="Rename").click()
    expect(dialog).to_be_hidden()
    expect(p.locator(f"#tag-label-{ids['tennis']}")).to_have_text("Tennis 2")
    p.get_by_role("button", name="Actions for Tennis 2").click()
    dialog.locator("[name=parent]").fill("Running")
    dialog.get_by_role("button", name="Move").click()
    expect(dialog).to_be_hidden()
    expect(p.locator("#preview")).to_contain_text("Moved to Running > Tennis 2")
    expect(p.locator(f"#tag-{ids['running']} #tag-{ids['tennis']}")).to_be_visible()
    expect(p.locator(f"#tag-label-{ids['tennis']}")).to_have_attribute("aria-current", "true")

    # A move that names no tag is refused beside its form, in the panel.
    detail = p.locator("#detail")
    before = len(problems)
    detail.locator("form", has_text="Move under").locator("[name=parent]").fill("No such")
    detail.get_by_role("button", name="Move").click()
    expect(detail.locator("[data-error-box]")).to_contain_text("No such")
    # The refusal is a 404 reply (and Chromium's console line about it), expected here.
    assert all("404" in problem for problem in problems[before:]), problems
    del problems[before:]

    # The tree as a file.
    with p.expect_download() as download:
        p.locator("#tree-export-yaml").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "Running" in text and "Tennis 2" in text and "Sport 229" in text
    # From the keyboard: Enter on a node's summary opens its panel (and folds it).
    summary = p.locator(f"#tag-{ids['ball']} > details > summary")
    summary.focus()
    p.keyboard.press("Enter")
    expect(p.locator(f"#tag-detail-{ids['ball']}")).to_be_visible()
    expect(p.locator(f"#tag-label-{ids['ball']}")).to_have_attribute("aria-current", "true")
    expect(p.locator(f"#tag-{ids['ball']} > details")).not_to_have_attribute("open", "")
    p.screenshot(path=str(artifacts / "tree.png"), full_page=False)
    assert problems == []
