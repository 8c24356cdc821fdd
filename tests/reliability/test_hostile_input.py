"""Hostile text from a model and from users survives the store, `--json`, exports and pages.

Answers and reasoning come from the fake model over real HTTP (so a JSON `\\ud800` escape
arrives as a lone surrogate, which cannot be stored as UTF-8 and must become U+FFFD); tag
labels and questions are stored as a user's import would store them.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from reliability_support import NAME, make_project
from sqlalchemy import select
from typer.testing import Result

from distillset.config import Settings
from distillset.distill import jobs
from distillset.domain import Origin, text_hash
from distillset.export import FORMATS, ExportOptions, export_dataset
from distillset.services.projects import get_project
from distillset.services.tags import add_children
from distillset.store import Answer, Question, Store, Tag
from distillset.tasks import run_task
from distillset.testing import FakeModelServer
from distillset.testing import fake_server as fake_server_module
from distillset.web import create_app

HTML = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
SQL = "'; DROP TABLE answers; -- \" OR 1=1"
CONTROL = "bell\x07 esc\x1b[31m nul\x00 del\x7f tab\t"
RTL = "\u202eevil\u202c \u200f\u05e9\u05dc\u05d5\u05dd"
EMOJI = "\U0001f600\U0001f469\u200d\U0001f469\u200d\U0001f467 \U0001f1fa\U0001f1f3"
HOSTILE = " | ".join([HTML, SQL, CONTROL, RTL, EMOJI])
MEGABYTE = "A" * 1_000_000

ANSWER_SENT = f"{HOSTILE} | lone\ud800half | {MEGABYTE}"
ANSWER_STORED = f"{HOSTILE} | lone\ufffdhalf | {MEGABYTE}"
REASONING_SENT = f"think {HOSTILE} \udfff"
REASONING_STORED = f"think {HOSTILE} \ufffd"
LABEL = f"{HTML} {SQL} {RTL} {EMOJI}".replace(">", ")")  # '>' separates path parts
QUESTION = f"Why {HOSTILE}?"


@pytest.fixture
def hostile_dataset(
    store: Store, settings: Settings, fake_server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> int:
    """One hostile tag and question, answered by a model that replies with hostile text."""
    make_project(store, fake_server.url, max_concurrency=2)
    original = fake_server_module.reply_parts

    def hostile_reply(kind: str, *args: Any) -> tuple[str | None, str]:
        if kind == "answer":
            return REASONING_SENT, ANSWER_SENT
        return original(kind, *args)

    monkeypatch.setattr(fake_server_module, "reply_parts", hostile_reply)
    with store.session() as session:
        project = get_project(session, NAME)
        (tag,) = add_children(session, project.id, None, [LABEL], Origin.IMPORTED)
        session.add(
            Question(
                project_id=project.id, tag_id=tag.id, text=QUESTION, text_hash=text_hash(QUESTION)
            )
        )
        project_id = project.id
    with store.session() as session:
        job = jobs.create_answers_job(session, settings, NAME)
    summary = asyncio.run(run_task(store, settings, job.task_id))
    assert summary["status"] == "succeeded", summary["last_error"]
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


def test_the_store_keeps_every_character_and_replaces_only_lone_surrogates(
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


@pytest.mark.parametrize("name", sorted(FORMATS))
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


def test_pages_escape_the_text_and_never_carry_live_markup(
    settings: Settings, store: Store, hostile_dataset: int
) -> None:
    with store.session() as session:
        tag_id = session.scalars(select(Tag.id)).one()
    pages = [
        f"/projects/{hostile_dataset}/dataset",
        f"/projects/{hostile_dataset}/questions",
        f"/projects/{hostile_dataset}/distill",
        f"/projects/{hostile_dataset}/distill/tags/{tag_id}",
        f"/projects/{hostile_dataset}/distill/tags/{tag_id}/questions",
    ]
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        shown = []
        for page in pages:
            reply = client.get(page)
            assert reply.status_code == 200, (page, reply.text[:300])
            assert "<script>alert(" not in reply.text, page
            assert "<img src=x" not in reply.text, page
            shown.append(reply.text)
    everything = "\n".join(shown)
    assert "&lt;script&gt;alert(" in everything
    assert "&lt;img src=x onerror=alert(1)" in everything


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
