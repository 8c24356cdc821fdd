"""What a record's teacher was sent is kept with it and exported per record (issue 11, item
20), and deleting a record makes the next answer a fresh request (item 5). CLI, real HTTP to
the fake model server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import Result

from distillset.config import Settings
from distillset.domain import text_hash
from distillset.store import Answer, Question, Store, open_store
from distillset.testing import FakeModelServer

NAME = "Swimming"
Cli = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def project(database: str, cli: Cli, cli_project_factory: Callable[[str], str]) -> str:
    """On SQLite and on PostgreSQL (the ``database`` fixture)."""
    cli_project_factory(NAME)
    ok(cli("model", "set", "fake", "--temperature", "0.3"))
    ok(cli("tags", "add", NAME, "--path", "Strokes"))
    return NAME


def _questions(cli: Cli) -> list[dict[str, object]]:
    return list(json.loads(ok(cli("questions", "list", NAME, "--json")).stdout))


def _answer_requests(fake_server: FakeModelServer) -> list[str]:
    """The user prompts of the answer requests the server received."""
    stats = fake_server.stats()
    return [
        prompt
        for prompt, body in zip(stats.prompts, stats.bodies, strict=True)
        if "response_format" not in body and "JSON array" not in prompt
    ]


def test_deleting_a_record_then_answering_again_sends_a_fresh_request(
    cli: Cli, project: str, fake_server: FakeModelServer, settings: Settings
) -> None:
    ok(cli("questions", "generate", NAME, "--tag", "Strokes", "--count", "1"))
    question_id = _questions(cli)[0]["id"]
    ok(cli("answers", "generate", NAME))
    records = json.loads(ok(cli("dataset", "list", NAME, "--json")).stdout)["records"]
    assert len(_answer_requests(fake_server)) == 1 and len(records) == 1

    ok(cli("dataset", "delete", NAME, str(records[0]["id"]), "--yes"))
    again = json.loads(ok(cli("answers", "generate", NAME, "--json")).stdout)

    # The model was asked again: the deleted reply was not replayed from the cache.
    assert len(_answer_requests(fake_server)) == 2
    assert again["counters"]["calls"]["requests"] == 1
    assert again["counters"]["calls"]["cached"] == 0
    assert [(row["id"], row["answered"]) for row in _questions(cli)] == [(question_id, True)]
    # Answering the same question again after that is still served once: nothing re-sent.
    assert (
        json.loads(ok(cli("answers", "generate", NAME, "--json")).stdout)["counters"]["answers"][
            "planned"
        ]
        == 0
    )
    assert len(_answer_requests(fake_server)) == 2


def _old_record(store: Store, project_id: int, tag_id: int, text: str) -> None:
    """A record stored before prompts were kept: no prompt, no system prompt."""
    with store.session() as session:
        question = Question(
            project_id=project_id, tag_id=tag_id, text=text, text_hash=text_hash(text)
        )
        session.add(question)
        session.flush()
        session.add(Answer(question_id=question.id, project_id=project_id, answer="Old answer."))


def test_each_record_exports_the_system_prompt_its_teacher_was_sent(
    cli: Cli, project: str, fake_server: FakeModelServer, settings: Settings, tmp_path: Path
) -> None:
    ok(cli("questions", "generate", NAME, "--tag", "Strokes", "--count", "3"))
    first, second, third = (row["id"] for row in _questions(cli))
    for question_id, system in ((first, "Be precise."), (second, "Be brief."), (third, "")):
        ok(cli("project", "set", NAME, "--answer-system-prompt", system))
        ok(cli("answers", "generate", NAME, "--question", str(question_id)))
    ok(cli("project", "set", NAME, "--answer-system-prompt", "Current prompt."))
    store = open_store(settings)
    try:
        with store.session() as session:
            stored = {row.question_id: row for row in session.scalars(select(Answer)).all()}
            tag_id = session.scalar(select(Question.tag_id).where(Question.id == first))
            project_id = stored[first].project_id
        _old_record(store, project_id, int(tag_id or 0), "How old is the crawl?")
    finally:
        store.close()

    out = tmp_path / "messages.jsonl"
    ok(cli("export", NAME, "--format", "messages", "--output", str(out)))

    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    systems = [[m["content"] for m in line["messages"] if m["role"] == "system"] for line in lines]
    assert systems == [["Be precise."], ["Be brief."], [], ["Current prompt."]]
    # A system prompt given for the export still applies to every record.
    forced = tmp_path / "forced.jsonl"
    ok(cli("export", NAME, "-f", "messages", "-o", str(forced), "--system", "Forced."))
    for line in forced.read_text(encoding="utf-8").splitlines():
        assert json.loads(line)["messages"][0] == {"role": "system", "content": "Forced."}
    # What was stored is exactly what the server received.
    sent = _answer_requests(fake_server)
    assert [stored[q].prompt for q in (first, second, third)] == sent
    assert stored[first].sampling == {"temperature": 0.3}
    assert stored[third].system_prompt is None
