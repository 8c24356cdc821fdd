"""An endpoint set to stream (`model add --stream`) has its answers requested streamed, and
stores exactly what a non-streamed request stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import Result

from distillset.config import load_settings
from distillset.domain import Origin, text_hash
from distillset.projects.lifecycle import get_project
from distillset.store import Answer, Question, open_store
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer

Cli = Callable[..., Result]
QUESTION = "How does a sprinter's start differ from a distance runner's?"
STORED = ("answer", "reasoning", "model", "finish_reason", "input_tokens", "output_tokens")


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def _project_with_a_question(cli: Cli, name: str, answer_model: str) -> None:
    _ok(cli("project", "create", name, "--topic", "Sports"))
    _ok(
        cli(
            "project", "set", name, "--question-model", answer_model, "--answer-model", answer_model
        )
    )
    store = open_store(load_settings())
    try:
        with store.session() as session:
            project = get_project(session, name)
            tag = add_tag_path(session, project, "Running", Origin.MANUAL)
            session.add(
                Question(
                    project_id=project.id,
                    tag_id=tag.id,
                    text=QUESTION,
                    text_hash=text_hash(QUESTION),
                )
            )
    finally:
        store.close()


def _stored_answer(name: str) -> dict[str, Any]:
    store = open_store(load_settings())
    try:
        with store.session() as session:
            project = get_project(session, name)
            answer = session.scalars(select(Answer).where(Answer.project_id == project.id)).one()
            return {field: getattr(answer, field) for field in (*STORED, "reasoning_tokens")}
    finally:
        store.close()


@pytest.mark.parametrize("reasoning_style", ["reasoning_content", "think"])
def test_a_streaming_endpoint_stores_the_same_answer(
    cli: Cli, fake_server: FakeModelServer, reasoning_style: str
) -> None:
    fake_server.configure(reasoning_style=reasoning_style)
    base = ("--base-url", fake_server.url, "--model", "fake-model")
    _ok(cli("model", "add", "plain", *base))
    _ok(cli("model", "add", "streamed", *base, "--stream"))
    _project_with_a_question(cli, "Plain", "plain")
    _project_with_a_question(cli, "Streamed", "streamed")

    # --no-cache: the second project's identical request must reach the server too.
    _ok(cli("answers", "generate", "Plain", "--no-cache"))
    _ok(cli("answers", "generate", "Streamed", "--no-cache"))

    plain, streamed = _stored_answer("Plain"), _stored_answer("Streamed")
    assert streamed == plain
    assert plain["reasoning"] and plain["answer"] and plain["output_tokens"]
    assert "<think>" not in streamed["answer"]
    bodies = fake_server.stats().bodies
    assert [body.get("stream", False) for body in bodies] == [False, True]
    assert bodies[1]["stream_options"] == {"include_usage": True}
    assert bodies[1]["messages"] == bodies[0]["messages"]


def test_stream_is_an_endpoint_setting(cli: Cli) -> None:
    base = ("--base-url", "http://127.0.0.1:9/v1", "--model", "a")
    _ok(cli("model", "add", "m", *base))
    assert json.loads(cli("model", "show", "m", "--json").stdout)["stream"] is False
    _ok(cli("model", "set", "m", "--stream"))
    assert json.loads(cli("model", "show", "m", "--json").stdout)["stream"] is True
    assert "stream: True" in cli("model", "show", "m").stdout
    _ok(cli("model", "set", "m", "--temperature", "0.3"))  # other changes leave it alone
    assert json.loads(cli("model", "show", "m", "--json").stdout)["stream"] is True
    _ok(cli("model", "set", "m", "--no-stream"))
    assert json.loads(cli("model", "show", "m", "--json").stdout)["stream"] is False
