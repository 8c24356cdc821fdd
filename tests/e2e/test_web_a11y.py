"""Browser tests of the shared look: every main page passes axe-core (no serious or critical
violation), fits a 390 px wide screen without sideways scrolling, and is left as a screenshot
under test-artifacts/pages/; the keyboard reaches and operates the controls (raw text, the
auto-distill dialog, the least likely tokens); the record view shades each answer token by
the teacher's confidence with the alternatives on hover."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from typer.testing import Result

from distillset.testing import FakeModelServer
from helpers import axe_problems, horizontal_overflow

NAME = "Rowing"
Cli = Callable[..., Result]
WIDE = {"width": 1280, "height": 860}
NARROW = {"width": 390, "height": 844}


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def seeded(
    cli: Cli, cli_project_factory: Callable[[str], str], fake_server: FakeModelServer
) -> dict[str, Any]:
    # Requested before `page` by each test: the CLI runs its own event loop, which it cannot
    # once Playwright's runs in this thread.
    """A project with a small tree, answers with soft labels (k=4) and one without, and a
    price on its endpoint so the usage page has costs, and a conversation of each question."""
    cli_project_factory(NAME)
    ok(cli("tags", "add", NAME, "--path", "Technique > Catch"))
    ok(cli("tags", "add", NAME, "--path", "Training"))
    ok(cli("questions", "generate", NAME, "--tag", "Technique > Catch", "--count", "2"))
    ok(cli("model", "set", "fake", "--logprobs", "4", "--price-in", "1.5", "--price-out", "6"))
    ok(cli("answers", "generate", NAME))
    ok(cli("model", "set", "fake", "--logprobs", "0"))
    ok(cli("questions", "generate", NAME, "--tag", "Training", "--count", "1"))
    ok(cli("answers", "generate", NAME))
    ok(cli("project", "set", NAME, "--scenario", "a rower asking a coach", "--rounds", "2"))
    ok(cli("answers", "generate", NAME, "--dataset-type", "multi"))
    records = json.loads(ok(cli("dataset", "list", NAME, "--json")).stdout)["records"]
    tasks = json.loads(ok(cli("tasks", "list", NAME, "--json")).stdout)
    task_id = (tasks[0] if isinstance(tasks, list) else tasks["tasks"][0])["id"]
    return {"records": [r["id"] for r in records], "task_id": task_id}


def _pages(seeded: dict[str, Any]) -> dict[str, str]:
    record = seeded["records"][0]
    return {
        "projects": "/",
        "distill": "/projects/1/distill",
        "questions": "/projects/1/questions",
        "dataset": "/projects/1/dataset",
        "record": f"/projects/1/dataset/{record}",
        # A record without soft labels: the score-tokens form instead of the shades.
        "record-unscored": f"/projects/1/dataset/{seeded['records'][-1]}",
        "import": "/projects/1/dataset/import",
        "conversations": "/projects/1/conversations",
        "tasks": "/projects/1/tasks",
        "task": f"/projects/1/tasks/{seeded['task_id']}",
        "quality": "/projects/1/quality",
        "export": "/projects/1/export",
        "usage": "/projects/1/usage",
        "settings": "/projects/1/settings",
    }


# Pages the README shows (docs/img/web-*.png are copies): the part of the page, or the first
# screenful.
README_SHOTS = {"dataset": None, "record": "#token-confidence", "usage": None}


MARKDOWN_ANSWER = """Rowing power comes from **the legs first**, then the back, then the arms.

| Phase | What moves |
|---|---|
| Drive | legs, then back, then arms |
| Recovery | arms, then back, then legs |

1. Keep the catch *light*.
2. Hold `1:2` drive-to-recovery timing.
"""


def test_every_page_is_accessible_and_fits_a_phone(
    seeded: dict[str, Any], page: Page, live_server: str, artifacts: Path, problems: list[str]
) -> None:
    shots = artifacts / "pages"
    shots.mkdir(exist_ok=True)
    # One answer in Markdown, as teachers write them (the page renders it, sanitized).
    edited = httpx.patch(
        f"{live_server}/api/v1/projects/1/records/{seeded['records'][-1]}",
        json={"answer": MARKDOWN_ANSWER},
    )
    assert edited.status_code == 200, edited.text
    found: dict[str, list[str]] = {}
    for name, path in _pages(seeded).items():
        page.set_viewport_size(WIDE)
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state("networkidle") if name != "task" else None
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        if name in README_SHOTS:  # the README's pictures: the first screenful, or a part
            part = README_SHOTS[name]
            target = page.locator(part) if part else page
            target.screenshot(path=str(shots / f"readme-{name}.png"))
        violations = axe_problems(page)
        if violations:
            found[name] = violations
        page.set_viewport_size(NARROW)
        page.goto(f"{live_server}{path}")
        overflow = horizontal_overflow(page)
        page.screenshot(path=str(shots / f"{name}-390.png"), full_page=True)
        if overflow > 0:
            found.setdefault(name, []).append(f"scrolls sideways by {overflow} px at 390 px")
    assert not found, json.dumps(found, indent=1)
    assert not problems, problems


def test_the_record_view_shades_tokens_with_their_alternatives(
    seeded: dict[str, Any], page: Page, live_server: str, problems: list[str]
) -> None:
    page.goto(f"{live_server}/projects/1/dataset/{seeded['records'][0]}")
    tokens = page.locator("[data-tokens=answer] .tok")
    assert tokens.count() > 3
    answer = page.locator("#answer-" + str(seeded["records"][0]) + " [data-view=raw]")
    assert "".join(tokens.all_text_contents()) == answer.text_content()
    first = tokens.first
    title = first.get_attribute("title") or ""
    assert "%" in title and "alternatives:" in title
    first.hover()  # the title is the hover text; nothing else changes the layout
    shades = {c.split()[-1] for c in tokens.evaluate_all("els => els.map(e => e.className)")}
    assert shades <= {"p0", "p1", "p2", "p3", "p4"}
    # The least likely tokens take focus from the keyboard and show their alternatives.
    focusable = page.locator("[data-tokens] .tok[tabindex='0']")
    if focusable.count():
        focusable.first.focus()
        expect(focusable.first).to_be_focused()
    expect(page.locator("#lowest-tokens tbody tr")).not_to_have_count(0)
    # A record without soft labels says why and links to the setting that adds them.
    page.goto(f"{live_server}/projects/1/dataset/{seeded['records'][-1]}")
    expect(page.locator("#token-confidence")).to_contain_text("has no soft labels")
    page.locator("#token-confidence a[href$='/settings#endpoints']").click()
    page.wait_for_url("**/settings#endpoints")
    assert not problems, problems


def test_the_keyboard_operates_raw_text_dialogs_and_links(
    seeded: dict[str, Any], page: Page, live_server: str, problems: list[str]
) -> None:
    record = seeded["records"][0]
    page.goto(f"{live_server}/projects/1/dataset")
    raw_button = page.locator(f"#answer-{record} [data-toggle-raw]")
    raw_button.focus()
    page.keyboard.press("Enter")
    expect(raw_button).to_have_attribute("aria-pressed", "true")
    expect(page.locator(f"#answer-{record} [data-view=raw]")).to_be_visible()
    expect(page.locator(f"#answer-{record} [data-view=rendered]")).to_be_hidden()
    page.keyboard.press("Space")
    expect(page.locator(f"#answer-{record} [data-view=rendered]")).to_be_visible()
    # Focus is visible: the focused control draws an outline.
    outline = raw_button.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"

    # A tag of the tree opens its panel from the keyboard.
    page.goto(f"{live_server}/projects/1/distill")
    page.locator("#tag-1 > details > summary").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#tag-detail-1")).to_be_visible()

    # The auto-distill dialog opens from the keyboard and Escape closes it.
    opener = page.get_by_role("button", name="Auto distill…")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#auto-dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # The first Tab reaches the skip link, which moves focus to the content.
    page.goto(f"{live_server}/projects/1/usage")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    assert not problems, problems


def test_a_refusal_links_to_the_setting_that_fixes_it(
    cli: Cli, page: Page, live_server: str, problems: list[str]
) -> None:
    ok(cli("project", "create", "Empty"))
    page.goto(f"{live_server}/projects/1/distill")
    expect(page.locator("#no-model")).to_contain_text("No model is set")
    page.locator("#generate-top").get_by_role("button", name="Generate top-level tags").click()
    alert = page.locator("[role=alert]")
    expect(alert).to_contain_text("has no question model")
    expect(alert).not_to_contain_text("distillset")
    alert.get_by_role("link", name="Choose the question model in Settings").click()
    page.wait_for_url("**/settings#question_model")
    expect(page.locator("#question_model")).to_be_focused()
    # The refusal was an expected 422; nothing else went wrong.
    assert [p for p in problems if "422" not in p] == []


def test_the_add_endpoint_form_offers_the_providers_models(
    cli: Cli, fake_server: FakeModelServer, page: Page, live_server: str, problems: list[str]
) -> None:
    ok(cli("project", "create", "Sports"))
    page.goto(f"{live_server}/projects/1/settings")
    form = page.locator("#add-endpoint")
    form.locator("[name=base_url]").fill(fake_server.url)
    form.get_by_role("button", name="List the provider's models").click()
    expect(form.locator("#add-endpoint-models [role=status]")).to_contain_text("1 model offered")
    options = form.locator("#add-endpoint-model-list option")
    expect(options).to_have_count(1)
    assert options.first.get_attribute("value") == "fake-model"
    # The presets name their providers.
    preset = form.locator("[name=preset]")
    preset.select_option("dashscope")
    expect(preset.locator("option:checked")).to_have_text("Alibaba Bailian (DashScope)")
    assert not problems, problems
