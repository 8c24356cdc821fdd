"""Browser test of the main pages offline: every asset comes from the package (the API docs'
Swagger UI included, and a favicon), and no page logs a console error or a failed request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

ProjectFactory = Callable[..., int]


def _settled(page: Page, url: str, problems: list[str]) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    assert problems == [], f"{url}: {problems}"


def test_the_main_pages_and_the_api_docs_work_offline_without_an_error(
    page: Page,
    live_server: str,
    project_factory: ProjectFactory,
    problems: list[str],
    artifacts: Path,
) -> None:
    project_id = project_factory("Sports")
    base = f"/projects/{project_id}"
    with httpx.Client(base_url=f"{live_server}/api/v1", timeout=30) as api:
        tag = api.post(f"{base}/tags", json={"label": "Running"}).json()["id"]
        api.post(f"{base}/tags/{tag}/questions/generate", json={"count": 2}).raise_for_status()
        task = api.post(f"{base}/tasks/answers", json={}).json()
    project = f"{live_server}{base}"

    _settled(page, f"{live_server}/", problems)
    # The page names its icon, from the package; a tab showing a JSON reply asks for
    # /favicon.ico, which answers too.
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon and httpx.get(f"{live_server}{icon}").status_code == 200
    assert httpx.get(f"{live_server}/favicon.ico").status_code == 200

    _settled(page, f"{project}/distill", problems)
    page.locator(f"#tag-label-{tag}").click()
    expect(page.locator(f"#tag-detail-{tag}")).to_be_visible()
    page.get_by_role("button", name="Auto distill…").click()
    page.locator("#auto-dialog").get_by_role("button", name="Show the plan").click()
    expect(page.locator("#plan")).to_contain_text("this run will create")
    assert problems == []

    for path in ("questions", "dataset", "tasks", "export", "settings"):
        _settled(page, f"{project}/{path}", problems)
    expect(page.locator("#prompts")).to_contain_text("Prompt templates")

    _settled(page, f"{project}/tasks/{task['task_id']}", problems)
    expect(page.locator(".progress [data-field=status]")).to_have_text("succeeded")
    assert problems == []

    # The API docs: Swagger UI from the package, drawing the app's own OpenAPI.
    _settled(page, f"{live_server}/docs", problems)
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("distillset")
    expect(page.locator(".swagger-ui .opblock-tag-section").first).to_be_visible()
    page.screenshot(path=str(artifacts / "api-docs.png"))
    assert problems == []
