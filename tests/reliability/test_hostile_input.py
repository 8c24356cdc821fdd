"""Hostile text from a model and from users survives the store, `--json`, exports and pages.

The tag label, the question, the answer and its reasoning come from the fake model over real
HTTP, so a JSON `\\ud800` escape in the reply arrives as a lone surrogate, which UTF-8 (the
store, every file) cannot hold: it becomes U+FFFD on the way in. Control characters other
than tab and line breaks (NUL, which PostgreSQL cannot store; ESC, BEL...) are removed on the
way in. A user then edits the question through the web API to a megabyte of text. Labels are
the one exception to "any text": they are single lines of at most 500 characters, ">"
separates path parts (it becomes "-"), and runs of whitespace become one space.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from reliability_support import NAME, make_project, run_auto
from sqlalchemy import select
from typer.testing import Result

from distillset.config import Settings
from distillset.export import FORMATS, ExportOptions, export_dataset
from distillset.projects.lifecycle import get_project
from distillset.store import Answer, Question, Store, Tag
from distillset.testing import FakeModelServer, fake_content
from distillset.testing import fake_server as fake_server_module
from distillset.web import create_app

HTML = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
SQL = "'; DROP TABLE answers; -- \" OR 1=1"
CONTROL = "bell\x07 esc\x1b[31m nul\x00 del\x7f vt\x0b"
CONTROL_STORED = "bell esc[31m nul del vt"
RTL = "\u202eevil\u202c \u200f\u05e9\u05dc\u05d5\u05dd"
EMOJI = "\U0001f600\U0001f469\u200d\U0001f469\u200d\U0001f467 \U0001f1fa\U0001f1f3"
HOSTILE = " | ".join([HTML, SQL, CONTROL, RTL, EMOJI])
HOSTILE_STORED = HOSTILE.replace(CONTROL, CONTROL_STORED)
MEGABYTE = "A" * 1_000_000

ANSWER_SENT = f"{HOSTILE} | tab\there\r\nnext line | lone\ud800half | {MEGABYTE}"
ANSWER_STORED = f"{HOSTILE_STORED} | tab\there\r\nnext line | lone\ufffdhalf | {MEGABYTE}"
REASONING_SENT = f"think {HOSTILE} \udfff"
REASONING_STORED = f"think {HOSTILE_STORED} \ufffd"
LABEL_SENT = f"Label {HOSTILE} lone\udbffhalf"
# Stored as a label: '>' separates path parts.
LABEL = LABEL_SENT.replace(CONTROL, CONTROL_STORED).replace(">", "-").replace("\udbff", "\ufffd")
QUESTION_SENT = f"Why {HOSTILE} lone\udc00half?"
QUESTION_FROM_MODEL = QUESTION_SENT.replace(CONTROL, CONTROL_STORED).replace("\udc00", "\ufffd")
QUESTION = f"{QUESTION_FROM_MODEL} {'Q' * 1_000_000}"  # as the user's edit leaves it


def _hostile_reply(kind: str, messages: list[dict[str, Any]], *args: Any) -> tuple[str | None, str]:
    """One hostile tag, one hostile question, a hostile answer; the lone surrogates are raw
    in the message, so the server's JSON body carries them as `\\udXXX` escapes."""
    if kind == "list":
        asked_questions = "questions" in fake_content.user_text(messages)
        item = QUESTION_SENT if asked_questions else LABEL_SENT
        return None, json.dumps([item], ensure_ascii=False)
    return REASONING_SENT, ANSWER_SENT


@pytest.fixture
def hostile_dataset(
    store: Store, settings: Settings, fake_server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> int:
    """One hostile tag and question from the model, answered with hostile text; then the user
    edits the question to a megabyte through the web API."""
    make_project(store, fake_server.url, max_concurrency=2)
    monkeypatch.setattr(fake_server_module, "reply_parts", _hostile_reply)
    summary = run_auto(store, settings, levels=1, tags=1, questions=1)
    assert summary["status"] == "succeeded", summary["last_error"]
    with store.session() as session:
        assert session.scalars(select(Question.text)).one() == QUESTION_FROM_MODEL
        project_id = get_project(session, NAME).id
        record_id = session.scalars(select(Answer.id)).one()
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        edited = client.patch(
            f"/api/v1/projects/{project_id}/records/{record_id}", json={"question": QUESTION}
        )
    assert edited.status_code == 200, edited.text[:300]
    return project_id


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _holds(rows: Any, *texts: str) -> bool:
    found = list(_strings(rows))
    return all(any(text in value for value in found) for text in texts)


def test_the_store_drops_control_characters_and_replaces_lone_surrogates(
    store: Store, hostile_dataset: int
) -> None:
    with store.session() as session:
        answer = session.scalars(select(Answer)).one()
        question = session.scalars(select(Question)).one()
        label = session.scalars(select(Tag.label)).one()
    assert answer.answer == ANSWER_STORED
    assert answer.reasoning == REASONING_STORED
    assert question.text == QUESTION and label == LABEL


def test_cli_json_round_trips_the_text(hostile_dataset: int, cli: Callable[..., Result]) -> None:
    listed = cli("dataset", "list", NAME, "--json")
    assert listed.exit_code == 0, listed.output[-500:]
    assert _holds(json.loads(listed.stdout), ANSWER_STORED, REASONING_STORED, QUESTION, LABEL)
    tree = cli("tags", "tree", NAME, "--json")
    assert tree.exit_code == 0 and _holds(json.loads(tree.stdout), LABEL)


# Preference formats pair two scored samples of a question; this dataset has one record
# (their text round trip: tests/integration/test_best_of_n.py).
@pytest.mark.parametrize("name", sorted(name for name, fmt in FORMATS.items() if not fmt.pairs))
def test_every_export_format_round_trips_the_text(
    store: Store, hostile_dataset: int, tmp_path: Path, name: str
) -> None:
    output = tmp_path / f"{name}.jsonl"
    fields = {"question": "q", "answer": "a", "reasoning": "r", "tag_path": "t"}
    options = ExportOptions(format=name, output=output, fields=fields if name == "custom" else {})
    with store.session() as session:
        export_dataset(session, get_project(session, NAME), options)
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 1
    # The answer and question always; reasoning in its field or inline, by format default.
    assert _holds(rows, ANSWER_STORED, QUESTION, REASONING_STORED), name


@pytest.mark.parametrize("file_format", ["json", "csv", "parquet"])
def test_every_file_type_round_trips_the_text(
    store: Store, hostile_dataset: int, tmp_path: Path, file_format: str
) -> None:
    output = tmp_path / f"raw.{file_format}"
    with store.session() as session:
        export_dataset(
            session, get_project(session, NAME), ExportOptions(format="raw", output=output)
        )
    if file_format == "json":
        rows: Any = json.loads(output.read_text(encoding="utf-8"))
    elif file_format == "csv":
        csv.field_size_limit(sys.maxsize)
        with output.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    else:
        rows = pq.read_table(output).to_pylist()
    assert _holds(rows, ANSWER_STORED, REASONING_STORED, QUESTION, LABEL), file_format


def test_pages_show_the_whole_text_escaped_and_never_live_markup(
    settings: Settings, store: Store, hostile_dataset: int
) -> None:
    with store.session() as session:
        tag_id = session.scalars(select(Tag.id)).one()
    project, record = f"/projects/{hostile_dataset}", (QUESTION, ANSWER_STORED, REASONING_STORED)
    pages = {
        f"{project}/dataset": (LABEL, *record),
        f"{project}/questions": (LABEL, QUESTION),
        f"{project}/distill": (LABEL,),
        f"{project}/distill/tags/{tag_id}": (LABEL, *record),
        f"{project}/distill/tags/{tag_id}/questions": record,
    }
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        for page, texts in pages.items():
            reply = client.get(page)
            assert reply.status_code == 200, (page, reply.text[:300])
            assert "<script>alert(" not in reply.text, page
            assert "<img src=x" not in reply.text, page
            # Every character is there, escaped as the templates escape: nothing cut or lost.
            for text in texts:
                assert str(escape(text)) in reply.text, (page, text[:80])
    assert "&lt;script&gt;alert(&#34;owned&#34;)" in str(escape(QUESTION))


def test_a_megabyte_tag_label_is_refused_with_one_clear_line(
    project: str, cli: Callable[..., Result], store: Store
) -> None:
    refused = cli("tags", "add", project, "--path", f"Label {MEGABYTE}")

    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: tag label too long (1000006 > 500 chars)")
    assert len(refused.stderr.splitlines()) == 1
    with store.session() as session:
        assert session.scalars(select(Tag)).all() == []


@pytest.mark.parametrize("stage", ["tags", "questions"])
def test_a_lone_surrogate_escaped_inside_a_json_list_becomes_a_replacement_character(
    store: Store,
    settings: Settings,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
    stage: str,
) -> None:
    """The model writes the escape itself (`["Why \\ud800?"]`): it arrives as six characters
    and becomes a lone surrogate only when the list is parsed."""
    make_project(store, fake_server.url, max_concurrency=2, max_retries=0)
    original = fake_server_module.reply_parts
    sent = {"tags": "Label lone\ud800half", "questions": "Why lone\ud800half?"}

    def escaping_reply(kind: str, messages: list[dict[str, Any]], *args: Any) -> Any:
        asked = "questions" if "questions" in fake_content.user_text(messages) else "tags"
        if kind == "list" and asked == stage:
            return None, json.dumps([sent[stage]])  # ASCII JSON: the escape is in the text
        return original(kind, messages, *args)

    monkeypatch.setattr(fake_server_module, "reply_parts", escaping_reply)

    summary = run_auto(store, settings, levels=1, tags=1, questions=1)

    assert summary["status"] == "succeeded", summary["last_error"]
    with store.session() as session:
        stored = session.scalars(select(Tag.label if stage == "tags" else Question.text)).one()
    assert stored == sent[stage].replace("\ud800", "\ufffd")


def test_a_tree_file_escaping_a_lone_surrogate_is_replaced_or_refused_in_one_line(
    project: str, cli: Callable[..., Result], store: Store, tmp_path: Path
) -> None:
    tree = tmp_path / "tree.json"
    tree.write_text('{"children": [{"label": "Label lone\\ud800half"}]}', encoding="utf-8")

    imported = cli("tags", "import", project, str(tree))

    with store.session() as session:
        labels = session.scalars(select(Tag.label)).all()
    if imported.exit_code == 0:
        assert labels == ["Label lone\ufffdhalf"]
    else:
        assert imported.exit_code == 2 and imported.stderr.startswith("error: ")
        assert len(imported.stderr.splitlines()) == 1 and labels == []


def test_a_lone_surrogate_in_a_web_edit_is_replaced_or_refused_never_a_server_error(
    settings: Settings, store: Store, hostile_dataset: int
) -> None:
    body = json.dumps({"question": "Edited lone\ud800half?"})  # ASCII JSON: "\\ud800"
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1", raise_server_exceptions=False
    ) as client:
        reply = client.patch(
            f"/api/v1/projects/{hostile_dataset}/records/1",
            content=body,
            headers={"Content-Type": "application/json"},
        )
    with store.session() as session:
        stored = session.scalars(select(Question.text)).one()
    if reply.status_code == 200:
        assert stored == "Edited lone\ufffdhalf?"
    else:
        assert 400 <= reply.status_code < 500, reply.text[:300]
        assert stored == QUESTION


def test_a_hostile_error_from_the_model_is_escaped_in_task_pages(
    store: Store,
    settings: Settings,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., Result],
) -> None:
    """An endpoint's error text reaches the task's last error and events, and the pages."""
    make_project(store, fake_server.url, max_concurrency=2, max_retries=0)
    original = fake_server_module._error

    def hostile_error(status: int, message: str, code: str, headers: Any = None) -> Any:
        return original(status, f"{HTML} {SQL}", code, headers)

    monkeypatch.setattr(fake_server_module, "_error", hostile_error)
    fake_server.configure(rate_500=1.0)

    failed = cli("auto", NAME, "--levels", "1", "--tags", "2", "--questions", "1", "--json")

    assert failed.exit_code == 1
    summary = json.loads(failed.stdout)
    assert HTML in summary["last_error"]  # kept as text, exactly
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        for page in ("/projects/1/tasks", f"/projects/1/tasks/{summary['id']}"):
            reply = client.get(page)
            assert reply.status_code == 200, page
            assert "<script>alert(" not in reply.text and "<img src=x" not in reply.text, page
            assert "&lt;script&gt;alert(" in reply.text, page
