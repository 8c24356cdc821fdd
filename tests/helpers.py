"""Test-data factories and shared checks (as full-stack-fastapi-template's tests/utils).

A module states only what differs (a name, a limit) and calls a factory here, directly or
through the factory fixtures of tests/conftest.py.

Imported as ``helpers``: pytest puts tests/ on sys.path because tests/conftest.py lives
there (the test folders are not packages).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import Result

from distillset.domain import Origin, text_hash
from distillset.projects import endpoints
from distillset.projects.lifecycle import create_project, update_project
from distillset.store import (
    Answer,
    Conversation,
    ConversationTurn,
    Project,
    Question,
    Store,
    Tag,
)
from distillset.tags.tree import add_tag_path

# The endpoint every factory project uses for questions and answers: the fake server's model.
FAKE_ENDPOINT = "fake"
FAKE_MODEL = "fake-model"


def make_project(
    store: Store, base_url: str, name: str, *, language: str = "en", **settings: Any
) -> int:
    """A project ``name`` whose question and answer model is the endpoint ``fake`` at
    ``base_url`` (the fake server's URL); ``settings`` go to update_project. Its id."""
    with store.session() as session:
        project = create_project(session, name, language=language)
        endpoints.add_endpoint(session, FAKE_ENDPOINT, model=FAKE_MODEL, base_url=base_url)
        update_project(
            session, project, question_model=FAKE_ENDPOINT, answer_model=FAKE_ENDPOINT, **settings
        )
        return project.id


def make_cli_project(cli: Callable[..., Result], base_url: str, name: str) -> str:
    """The same project made through the CLI (create, model add, project set); its name."""
    models = ("--question-model", FAKE_ENDPOINT, "--answer-model", FAKE_ENDPOINT)
    for args in (
        ("project", "create", name),
        ("model", "add", FAKE_ENDPOINT, "--base-url", base_url, "--model", FAKE_MODEL),
        ("project", "set", name, *models),
    ):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
    return name


def only_project(store: Store) -> Project:
    """The one project in the store (detached: read its columns, pass it to services)."""
    with store.session() as session:
        return session.scalars(select(Project)).one()


def add_record(
    session: Session, project: Project, tag: Tag, question: str, answer: str, **fields: Any
) -> Answer:
    """A question under ``tag`` and its answer (a dataset record); ``fields`` go to the Answer."""
    row = Question(
        project_id=project.id, tag_id=tag.id, text=question, text_hash=text_hash(question)
    )
    session.add(row)
    session.flush()
    record = Answer(question_id=row.id, project_id=project.id, answer=answer, **fields)
    session.add(record)
    return record


def add_conversation(
    session: Session,
    project: Project,
    tag: Tag,
    turns: Sequence[tuple[str, str | None]],
    *,
    system_prompt: str | None = None,
    complete: bool = True,
) -> Conversation:
    """A question under ``tag`` and its conversation: ``turns`` as (text, reasoning), the
    question first, then teacher and user alternating (a user turn's reasoning is None)."""
    question = turns[0][0]
    row = Question(
        project_id=project.id, tag_id=tag.id, text=question, text_hash=text_hash(question)
    )
    session.add(row)
    session.flush()
    conversation = Conversation(
        question_id=row.id,
        project_id=project.id,
        rounds=len(turns) // 2,
        setting={"scenario": "a lesson", "system_prompt": system_prompt},
        complete=complete,
    )
    session.add(conversation)
    session.flush()
    for position, (content, reasoning) in enumerate(turns):
        session.add(
            ConversationTurn(
                conversation_id=conversation.id,
                position=position,
                role="assistant" if position % 2 else "user",
                content=content,
                reasoning=reasoning,
                model="teacher-a" if position % 2 else None,
            )
        )
    session.flush()
    return conversation


def seed_export_dataset(
    store: Store, per_tag: int = 4, system: str | None = "Be precise."
) -> Project:
    """Sports: two leaf tags under Ball games plus Running, ``per_tag`` records each, with
    awkward text (newlines, quotes, commas); record 0 of each tag has no reasoning."""
    with store.session() as session:
        project = create_project(session, "Sports")
        project.answer_system_prompt = system
        tags = [
            add_tag_path(session, project, path, Origin.MANUAL)
            for path in ("Ball games > Football", "Ball games > Tennis", "Running")
        ]
        for tag in tags:
            for index in range(per_tag):
                add_record(
                    session,
                    project,
                    tag,
                    f'{tag.label} question {index}, "quoted"?',
                    f"Answer {index}\nsecond line, with comma",
                    reasoning=None if index == 0 else f"Reasoning {index}\nstep two",
                    model="teacher-a" if index % 2 else "teacher-b",
                    input_tokens=10,
                    output_tokens=20,
                )
    return only_project(store)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


OPENAI_ROLES = {"system", "user", "assistant"}


def assert_openai_chat_line(line: dict[str, Any]) -> None:
    """OpenAI chat fine-tuning: {"messages": [...]}, each message role + string content
    (optional name / weight), at least one assistant message, nothing else."""
    assert set(line) == {"messages"}
    messages = line["messages"]
    assert isinstance(messages, list) and messages
    for message in messages:
        assert set(message) <= {"role", "content", "name", "weight"}
        assert message["role"] in OPENAI_ROLES
        assert isinstance(message["content"], str) and message["content"]
    assert any(message["role"] == "assistant" for message in messages)
    assert messages[-1]["role"] == "assistant"


def assert_refused_in_one_line(
    cli: Callable[..., Result], cases: Iterable[tuple[Sequence[str], str]]
) -> None:
    """Each user mistake exits 2 with one `error: ...` line that holds ``message``."""
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
        assert message in lines[0], (args, result.stderr)
        assert "Traceback" not in result.output


def make_web_project(client: Any, base_url: str, name: str = "Sports", *tags: str) -> int:
    """A project made through the REST API, its models the endpoint `fake` at ``base_url``,
    with top-level ``tags``; returns its id."""
    project = client.post("/api/v1/projects", json={"name": name}).json()
    endpoint = {"alias": "fake", "base_url": base_url, "model": "fake-model"}
    assert client.post("/api/v1/endpoints", json=endpoint).status_code == 201
    models = {"question_model": "fake", "answer_model": "fake"}
    assert client.patch(f"/api/v1/projects/{project['id']}", json=models).status_code == 200
    for label in tags:
        assert client.post(
            f"/api/v1/projects/{project['id']}/tags", json={"label": label}
        ).is_success
    return int(project["id"])


def wait_until(what: str, condition: Callable[[], bool], seconds: float = 90) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# Browser checks (tests/e2e): axe-core from the npm registry, shipped in tests/e2e/vendor.
AXE = Path(__file__).resolve().parent / "e2e" / "vendor" / "axe.min.js"


def axe_problems(page: Any) -> list[str]:
    """The serious and critical axe-core violations of a Playwright page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def horizontal_overflow(page: Any) -> int:
    """How far a Playwright page scrolls sideways (0: it fits its viewport's width)."""
    return int(
        page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def web_project_with_fake_models(client: Any, fake_url: str) -> int:
    """A project made through the web app, the fake server its question and answer model
    (endpoint "fake"); returns its id."""
    hx = {"HX-Request": "true"}
    created = client.post("/projects", data={"name": "Sports"}, follow_redirects=False)
    project = int(created.headers["location"].split("/")[2])
    client.post(
        f"/projects/{project}/endpoints",
        data={"alias": "fake", "base_url": fake_url, "model": "m"},
        headers=hx,
    )
    client.post(
        f"/projects/{project}/settings",
        data={"question_model": "fake", "answer_model": "fake", "answer_system_prompt": ""},
        headers=hx,
    )
    return project
