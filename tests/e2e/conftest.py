"""Browser test fixtures: the app under uvicorn on a loopback port, and a page of the system
Chromium driven by Playwright (never a downloaded browser), which records what went wrong
in it (console errors, failed requests, error replies) and cannot reach beyond loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Page, Route, expect, sync_playwright

from distillset.config import Settings
from distillset.web import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this folder is a browser test, skipped where Chromium is missing."""
    missing = pytest.mark.skip(reason=f"{CHROMIUM} is not installed")
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            if not CHROMIUM.exists():
                item.add_marker(missing)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a background thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(200):
        if server.started:
            started.set()
            break
        started.wait(0.05)
    assert server.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def artifacts() -> Path:
    """Where browser tests leave screenshots and downloads for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def dialogs() -> list[str]:
    """Types of the JavaScript dialogs the page opened: an alert means injected script ran."""
    return []


@pytest.fixture
def problems() -> list[str]:
    """What went wrong in the page: console errors, uncaught exceptions, failed requests,
    replies of 400 and above, and any request for an address beyond loopback (refused)."""
    return []


def _record_failed(url: str, failure: str | None, problems: list[str]) -> None:
    # A task page's event stream never ends by itself: leaving the page aborts it; and a
    # page left at once (a form that navigates) aborts its favicon, still loading.
    path = urlsplit(url).path
    if path.endswith(("/events", "/favicon.svg")) and failure == "net::ERR_ABORTED":
        return
    problems.append(f"failed: {url} ({failure})")


def _refuse_outside(route: Route, problems: list[str]) -> None:
    host = urlsplit(route.request.url).hostname or ""
    if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        problems.append(f"request beyond loopback: {route.request.url}")
        route.abort("internetdisconnected")


@pytest.fixture
def page(live_server: str, dialogs: list[str], problems: list[str]) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1400, "height": 900}
        )
        # Offline, as a user's machine without internet: nothing leaves loopback.
        context.route("**/*", lambda route: _refuse_outside(route, problems))
        browser_page = context.new_page()
        browser_page.set_default_timeout(20_000)
        browser_page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
        browser_page.on(
            "console",
            lambda message: (
                problems.append(f"console {message.type}: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        browser_page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        browser_page.on(
            "requestfailed",
            lambda request: _record_failed(request.url, request.failure, problems),
        )
        browser_page.on(
            "response",
            lambda response: (
                problems.append(f"HTTP {response.status}: {response.url}")
                if response.status >= 400
                else None
            ),
        )
        yield browser_page
        browser.close()


@pytest.fixture
def wire_fake_model(live_server: str) -> Callable[[Page, str], None]:
    """``wire_fake_model(page, fake_url)``: project 1's models set through the settings page."""

    def wire(page: Page, fake_url: str) -> None:
        page.goto(f"{live_server}/projects/1/settings")
        form = page.locator("#add-endpoint")
        form.locator("[name=alias]").fill("fake")
        form.locator("[name=base_url]").fill(fake_url)
        form.locator("[name=model]").fill("fake-model")
        form.locator("[name=structured_output]").select_option("json_schema")
        form.get_by_role("button", name="Add endpoint").click()
        expect(page.locator("#endpoints")).to_contain_text("Endpoint fake added")
        settings_form = page.locator("#project-settings")
        settings_form.locator("[name=question_model]").select_option("fake")
        settings_form.locator("[name=answer_model]").select_option("fake")
        settings_form.get_by_role("button", name="Save settings").click()
        expect(page.locator("#messages")).to_contain_text("Settings saved")

    return wire
