"""Browser tests of waiting: an action that calls a model shows that it is working, disables
its control while the call is out, and cannot be sent twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from distillset.testing import FakeModelServer

ProjectFactory = Callable[..., int]
SLOW = 1.5  # seconds each model reply takes here: long enough to look at the page meanwhile


@pytest.fixture
def slow_model(fake_server: FakeModelServer) -> Iterator[FakeModelServer]:
    fake_server.configure(latency=SLOW)
    yield fake_server
    fake_server.configure(latency=0.0)


def _tag_with_an_answer(live_server: str, project_id: int) -> int:
    base = f"/projects/{project_id}"
    with httpx.Client(base_url=f"{live_server}/api/v1", timeout=30) as api:
        tag = api.post(f"{base}/tags", json={"label": "Running"}).json()["id"]
        api.post(f"{base}/tags/{tag}/questions/generate", json={"count": 1}).raise_for_status()
        api.post(f"{base}/questions/1/answer").raise_for_status()
    return int(tag)


def test_generating_shows_it_is_working_and_disables_its_button(
    page: Page, live_server: str, project_factory: ProjectFactory, fake_server: FakeModelServer
) -> None:
    project_id = project_factory("Sports")
    tag_id = _tag_with_an_answer(live_server, project_id)
    page.goto(f"{live_server}/projects/{project_id}/distill")
    page.locator(f"#tag-label-{tag_id}").click()
    form = page.locator(f"#tag-detail-{tag_id} form", has_text="Generate questions")
    form.locator("[name=count]").fill("1")
    form.get_by_role("button", name="Generate questions").click()
    expect(page.locator("#preview")).to_contain_text("Created 1 of 1 questions")

    fake_server.configure(latency=SLOW)
    try:
        form = page.locator(f"#tag-detail-{tag_id} form", has_text="Generate questions")
        form.locator("[name=count]").fill("1")  # the panel came back with its defaults
        button = form.get_by_role("button", name="Generate questions")
        button.click()
        # While the model works: the button is disabled, the form busy, and the last
        # result is no longer shown as if it answered this request.
        expect(button).to_be_disabled()
        expect(form).to_have_attribute("aria-busy", "true")
        preview = page.locator("#preview")
        expect(preview).to_have_attribute("aria-busy", "true")
        expect(preview.get_by_role("status")).to_have_text("Working…")
        expect(preview).not_to_contain_text("Created 1 of 1 questions")
    finally:
        fake_server.configure(latency=0.0)
    expect(page.locator("#preview")).to_contain_text("Created 1 of 1 questions")
    form = page.locator(f"#tag-detail-{tag_id} form", has_text="Generate questions")
    expect(form.get_by_role("button", name="Generate questions")).to_be_enabled()
    expect(form).not_to_have_attribute("aria-busy", "true")


def test_a_double_click_on_new_sample_makes_one_model_call(
    page: Page, live_server: str, project_factory: ProjectFactory, slow_model: FakeModelServer
) -> None:
    project_id = project_factory("Sports")
    tag_id = _tag_with_an_answer(live_server, project_id)
    page.goto(f"{live_server}/projects/{project_id}/distill")
    page.locator(f"#tag-label-{tag_id}").click()
    question = page.locator("#question-1")
    expect(question.locator(".ok")).to_have_text("answered")

    sent = slow_model.stats().total
    with page.expect_response(lambda r: r.url.endswith("/questions/1/answer")) as reply:
        new_sample = question.get_by_role("button", name="New sample")
        new_sample.dblclick()
        expect(new_sample).to_be_disabled()
        expect(new_sample).to_have_attribute("aria-busy", "true")
    assert reply.value.ok
    expect(page.locator("#question-1 .ok")).to_have_text("answered")
    expect(page.locator("#question-1").get_by_role("button", name="New sample")).to_be_enabled()
    # Let any second request arrive before counting: the page has nothing left in flight.
    page.wait_for_load_state("networkidle")
    assert slow_model.stats().total == sent + 1
