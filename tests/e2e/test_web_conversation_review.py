"""Browser test of the Conversations page: open a conversation, edit a turn, confirm, score
and delete it, each change read back through the REST API; then judge them as a task."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from typer.testing import Result

from distillset.testing import FakeModelServer

NAME = "Rowing"
Cli = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def seeded(
    cli: Cli, cli_project_factory: Callable[[str], str], fake_server: FakeModelServer
) -> list[int]:
    """Two complete two-round conversations, made by the CLI against the fake server
    (requested before `page`: the CLI runs its own event loop, which it cannot once
    Playwright's runs in this thread)."""
    cli_project_factory(NAME)
    ok(cli("project", "set", NAME, "--scenario", "a rower asking a coach", "--rounds", "2"))
    ok(cli("tags", "add", NAME, "--path", "Technique"))
    ok(cli("questions", "generate", NAME, "--tag", "Technique", "--count", "2"))
    ok(cli("answers", "generate", NAME, "--dataset-type", "multi"))
    found = json.loads(ok(cli("conversations", "list", NAME, "--json")).stdout)
    assert len(found) == 2 and all(talk["complete"] for talk in found)
    return [talk["id"] for talk in found]


def test_a_conversation_is_edited_confirmed_scored_and_deleted_in_the_browser(
    seeded: list[int], page: Page, live_server: str, problems: list[str], dialogs: list[str]
) -> None:
    first, second = seeded

    def shown(conversation_id: int) -> dict[str, Any]:
        url = f"{live_server}/api/v1/projects/1/conversations/{conversation_id}"
        reply = httpx.get(url)
        assert reply.status_code == 200, reply.text
        data: dict[str, Any] = reply.json()
        return data

    page.goto(f"{live_server}/projects/1/conversations")
    talk = page.locator(f"#conversation-{first}")
    expect(talk).to_contain_text("a rower asking a coach")
    expect(talk.locator(".turn")).to_have_count(4)

    # Edit the teacher's first reply: open its form, change the text, save.
    turn = talk.locator(f"#conversation-{first}-turn-1")
    turn.get_by_text("Edit turn 1").click()
    turn.locator("textarea[name=content]").fill("Drive with the legs first.")
    turn.get_by_role("button", name="Save turn").click()
    expect(page.locator(f"#conversation-{first}-turn-1 pre.answer")).to_have_text(
        "Drive with the legs first."
    )
    assert shown(first)["turns"][1]["content"] == "Drive with the legs first."

    # Confirm, then score.
    talk.get_by_role("button", name="Confirm").click()
    expect(talk.locator("[data-field=confirmed]")).to_have_text("confirmed")
    expect(talk.get_by_role("button", name="Unconfirm")).to_be_visible()
    talk.get_by_label("score").select_option("4.5")
    talk.get_by_role("button", name="Score").click()
    expect(talk).to_contain_text("score 4.5")
    after = shown(first)
    assert (after["confirmed"], after["score"]) == (True, 4.5)

    # Delete the other one (the page asks first; the fixture accepts).
    other = page.locator(f"#conversation-{second}")
    other.get_by_role("button", name="Delete").click()
    expect(page.locator("#conversations")).to_contain_text(f"Conversation #{second} deleted.")
    assert dialogs == ["confirm"]
    gone = httpx.get(f"{live_server}/api/v1/projects/1/conversations/{second}")
    assert gone.status_code == 404
    listed = httpx.get(f"{live_server}/api/v1/projects/1/conversations").json()
    assert [talk["id"] for talk in listed["conversations"]] == [first]

    # The judge scores the conversations as a task, followed on its page (rescoring: the
    # one left was scored by hand).
    page.get_by_label("rescore conversations already scored").check()
    page.get_by_role("button", name="Score with the judge").click()
    page.wait_for_url("**/tasks/*")
    expect(page.locator(".progress [data-field=status]")).to_have_text("succeeded")
    judged = shown(first)
    # Scored by hand it had no reason; the judge gives one.
    assert judged["score"] is not None and judged["score_reason"]
    assert not problems, problems
