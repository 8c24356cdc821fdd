"""Text a person gives or a model returns is validated in the core, the same everywhere.

NUL (which PostgreSQL cannot store) and the other C0 control characters are removed from model
text and refused in a person's input; a name or label longer than its limit is refused with
one message. Each case runs on SQLite and PostgreSQL, through the CLI, the REST API, the web
form and the Python API.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from reliability_support import NAME, make_project
from sqlalchemy import select
from typer.testing import Result

from distillset.api import Project as ProjectFacade
from distillset.config import Settings
from distillset.domain import InvalidInputError
from distillset.projects import endpoints
from distillset.projects import lifecycle as projects
from distillset.store import Answer, ModelEndpoint, Project, Question, Store, Tag
from distillset.tags import tree as tags
from distillset.testing import FakeModelServer, fake_content
from distillset.testing import fake_server as fake_server_module
from distillset.web import create_app
from helpers import add_record

LONG_NAME = "N" * 1_000_000
TOO_LONG = "project name too long (1000000 > 200 chars)"
CONTROL_CHARACTER = "control characters (such as NUL or ESC) are not allowed"
INTERFACES = ("cli", "rest", "form", "python")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        yield client


def _create_project(
    interface: str,
    name: str,
    cli: Callable[..., Result],
    client: TestClient,
    settings: Settings,
) -> tuple[int, str]:
    """(status, message) of creating a project named ``name`` through ``interface``: 0 and
    "" when it was created; the exit code or HTTP status and the error text otherwise."""
    if interface == "cli":
        done = cli("project", "create", name)
        assert len(done.stderr.splitlines()) <= 1, done.stderr[:300]
        return done.exit_code, done.stderr.removeprefix("error: ").strip()
    if interface == "rest":
        reply = client.post("/api/v1/projects", json={"name": name})
        return (0, "") if reply.status_code == 201 else (reply.status_code, reply.text)
    if interface == "form":
        reply = client.post("/projects", data={"name": name}, follow_redirects=False)
        if reply.status_code == 303:
            return 0, ""
        return reply.status_code, html.unescape(reply.text)
    try:
        ProjectFacade.create(name, settings=settings).close()
    except InvalidInputError as exc:
        return 2, str(exc)
    return 0, ""


def _project_names(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(Project.name)))


@pytest.mark.parametrize("interface", INTERFACES)
def test_a_name_over_the_limit_is_refused_with_one_message_everywhere(
    database: str,
    interface: str,
    cli: Callable[..., Result],
    client: TestClient,
    settings: Settings,
    store: Store,
) -> None:
    status, message = _create_project(interface, LONG_NAME, cli, client, settings)

    assert status == {"cli": 2, "python": 2}.get(interface, 422), message[:300]
    assert TOO_LONG in message
    assert _project_names(store) == []
    # The longest name allowed is taken, the same way.
    assert _create_project(interface, "N" * 200, cli, client, settings) == (0, "")
    assert _project_names(store) == ["N" * 200]


@pytest.mark.parametrize("interface", INTERFACES)
@pytest.mark.parametrize("character", ["\x00", "\x1b"])
def test_a_control_character_in_a_name_is_refused_and_nothing_stored(
    database: str,
    interface: str,
    character: str,
    cli: Callable[..., Result],
    client: TestClient,
    settings: Settings,
    store: Store,
) -> None:
    status, message = _create_project(interface, f"a{character}b", cli, client, settings)

    assert status == {"cli": 2, "python": 2}.get(interface, 422), message[:300]
    assert CONTROL_CHARACTER in message
    assert _project_names(store) == []


def _add_label(
    interface: str, label: str, cli: Callable[..., Result], client: TestClient, store: Store
) -> tuple[int, str]:
    if interface == "cli":
        done = cli("tags", "add", NAME, "--path", label)
        return done.exit_code, done.stderr
    if interface == "rest":
        reply = client.post("/api/v1/projects/1/tags", json={"label": label})
        return reply.status_code, reply.text
    if interface == "form":
        reply = client.post("/projects/1/distill/tags", data={"label": label})
        return reply.status_code, html.unescape(reply.text)
    try:
        with store.session() as session:
            tags.add_tag_path(session, projects.get_project(session, NAME), label)
    except InvalidInputError as exc:
        return 2, str(exc)
    return 0, ""


@pytest.mark.parametrize("interface", INTERFACES)
def test_a_label_with_nul_or_over_the_limit_is_refused_everywhere(
    database: str,
    interface: str,
    project: str,
    cli: Callable[..., Result],
    client: TestClient,
    store: Store,
) -> None:
    refused = {"cli": 2, "python": 2}.get(interface, 422)

    status, message = _add_label(interface, "a\x00b", cli, client, store)
    assert status == refused and CONTROL_CHARACTER in message, message[:300]
    status, message = _add_label(interface, "L" * 501, cli, client, store)
    assert status == refused and "tag label too long (501 > 500 chars)" in message

    with store.session() as session:
        assert session.scalars(select(Tag)).all() == []


def test_an_imported_file_with_nul_is_refused_in_one_line(
    database: str,
    project: str,
    cli: Callable[..., Result],
    client: TestClient,
    store: Store,
    tmp_path: Path,
) -> None:
    outline = json.dumps({"children": [{"label": "Good"}, {"label": "a\u0000b"}]})
    (tmp_path / "tree.json").write_text(outline, encoding="utf-8")

    imported = cli("tags", "import", project, str(tmp_path / "tree.json"))
    uploaded = client.post(
        "/api/v1/projects/1/tags/import",
        files={"file": ("tree.json", outline.encode(), "application/json")},
    )

    assert imported.exit_code == 2 and CONTROL_CHARACTER in imported.stderr
    assert len(imported.stderr.splitlines()) == 1
    assert uploaded.status_code == 422 and CONTROL_CHARACTER in uploaded.text
    with store.session() as session:
        assert session.scalars(select(Tag)).all() == []


def _nul_reply(kind: str, messages: list[dict[str, Any]], *args: Any) -> tuple[str | None, str]:
    """Tags, questions, reasoning and answers all carry NUL (a `\\u0000` escape in the JSON
    body) and an escape sequence."""
    if kind == "list":
        if "questions" in fake_content.user_text(messages):
            return None, json.dumps(["Why\u0000 does it\u001b[2J work?"])
        return None, json.dumps(["a\u0000b\u0007c"])
    return "I think\u0000 so", "The answer\u0000 is\tthis\n\u001b]0;TITLE\u0007done"


def test_nul_from_the_model_is_removed_and_auto_succeeds(
    database: str,
    store: Store,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., Result],
) -> None:
    make_project(store, fake_server.url, max_concurrency=2, max_retries=0)
    monkeypatch.setattr(fake_server_module, "reply_parts", _nul_reply)

    done = cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "1", "--json")

    assert done.exit_code == 0, done.output[-500:]
    assert json.loads(done.stdout)["status"] == "succeeded"
    with store.session() as session:
        labels = sorted(session.scalars(select(Tag.label)))
        texts = set(session.scalars(select(Question.text)))
        answers = session.execute(select(Answer.answer, Answer.reasoning)).all()
    assert labels == ["abc"]
    assert texts == {"Why does it[2J work?"}
    assert {tuple(row) for row in answers} == {("The answer is\tthis\n]0;TITLEdone", "I think so")}


def test_nul_in_an_endpoint_error_is_removed_and_the_task_fails_cleanly(
    database: str,
    store: Store,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., Result],
) -> None:
    make_project(store, fake_server.url, max_concurrency=2, max_retries=0)
    original = fake_server_module._error

    def nul_error(status: int, message: str, code: str, headers: Any = None) -> Any:
        return original(status, "overloaded\u0000 now", code, headers)

    monkeypatch.setattr(fake_server_module, "_error", nul_error)
    fake_server.configure(rate_500=1.0)

    done = cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "1", "--json")

    assert done.exit_code == 1, done.output[-500:]
    summary = json.loads(done.stdout)
    assert summary["status"] == "failed"
    assert "HTTP 500: overloaded now" in summary["last_error"]


@pytest.mark.parametrize("interface", ["cli", "rest"])
@pytest.mark.parametrize("part", ["question", "answer", "reasoning", "note"])
def test_an_edit_with_nul_is_refused_and_the_record_kept(
    database: str,
    interface: str,
    part: str,
    project: str,
    cli: Callable[..., Result],
    client: TestClient,
    store: Store,
) -> None:
    with store.session() as session:
        row = projects.get_project(session, NAME)
        tag = tags.add_tag_path(session, row, "Tag")
        add_record(session, row, tag, "Why?", "Because.", reasoning="Think.")
    text = "new\u0000text"

    if interface == "cli":
        args = (
            ("note", NAME, "1", text) if part == "note" else ("edit", NAME, "1", f"--{part}", text)
        )
        done = cli("dataset", *args)
        status, message = done.exit_code, done.stderr
    else:
        reply = client.patch("/api/v1/projects/1/records/1", json={part: text})
        status, message = reply.status_code, reply.text

    assert status == (2 if interface == "cli" else 422), message[:300]
    assert CONTROL_CHARACTER in message
    with store.session() as session:
        answer = session.scalars(select(Answer)).one()
        question = session.scalars(select(Question.text)).one()
    assert (question, answer.answer, answer.reasoning, answer.note) == (
        "Why?",
        "Because.",
        "Think.",
        None,
    )


@pytest.mark.parametrize("interface", ["cli", "rest", "python"])
def test_a_model_name_over_the_limit_is_refused_with_one_message(
    database: str,
    interface: str,
    cli: Callable[..., Result],
    client: TestClient,
    store: Store,
) -> None:
    model, url = "m" * 201, "http://127.0.0.1:9/v1"
    if interface == "cli":
        done = cli("model", "add", "long", "--model", model, "--base-url", url)
        status, message = done.exit_code, done.stderr
    elif interface == "rest":
        reply = client.post(
            "/api/v1/endpoints", json={"alias": "long", "model": model, "base_url": url}
        )
        status, message = reply.status_code, reply.text
    else:
        with pytest.raises(InvalidInputError) as refused, store.session() as session:
            endpoints.add_endpoint(session, "long", model=model, base_url=url)
        status, message = 2, str(refused.value)

    assert status == (422 if interface == "rest" else 2), message[:300]
    assert "model name too long (201 > 200 chars)" in message
    with store.session() as session:
        assert session.scalars(select(ModelEndpoint)).all() == []


def test_a_prompt_template_file_with_nul_is_refused_in_one_line(
    database: str, project: str, cli: Callable[..., Result], store: Store
) -> None:
    done = cli("prompts", "set", NAME, "questions", "-", input="{path}\u0000 {count}")

    assert done.exit_code == 2 and len(done.stderr.splitlines()) == 1
    assert CONTROL_CHARACTER in done.stderr
    shown = cli("prompts", "show", NAME, "questions")
    assert "\u0000" not in shown.stdout


LOOKUPS = [
    "/api/v1/projects/1/records?q=a%00b",
    "/api/v1/projects/1/questions?q=a%00b",
    "/projects/1/dataset?q=a%00b",
    "/projects/1/dataset?tag=a%00b",
    "/projects/1/questions?tag=a%00b",
    "/projects/1/export/file?tag=a%00b",
    "/api/v1/endpoints/a%00b",
]


def test_nul_in_a_search_or_lookup_is_refused_the_same_on_both_databases(
    database: str, project: str, client: TestClient, cli: Callable[..., Result]
) -> None:
    for url in LOOKUPS:
        reply = client.get(url)
        assert reply.status_code == 422, (url, reply.text[:200])
        assert CONTROL_CHARACTER in html.unescape(reply.text), url
    for command in (("project", "show", "a\x00b"), ("tags", "delete", NAME, "--path", "a\x00b")):
        done = cli(*command, "--yes") if command[0] == "tags" else cli(*command)
        assert done.exit_code == 2 and done.stderr.startswith("error: no "), done.output[-300:]
