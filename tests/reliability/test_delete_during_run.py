"""Deleting a tag or the project while `auto` runs: nothing more is sent for it, its work is
counted skipped, and no error shows SQL (issue 11, item 2). On SQLite and PostgreSQL.

The fake server holds every answer request until the test releases it, so the delete lands
at a known point: both limiter slots taken by answers, the other answers still unsent.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import Result

from distillset.config import Settings
from distillset.store import Answer, Question, Tag, TaskEvent, open_store
from distillset.testing import FakeModelServer, fake_content
from distillset.web import create_app

API = "/api/v1"
CONCURRENCY = 2
SQL_WORDS = ("INSERT", "SELECT", "[SQL", "[parameters", "IntegrityError", "FOREIGN KEY")


class HoldingServer(FakeModelServer):
    """The fake model, holding requests of some kinds (logged) until released."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_kinds = {"answer"}
        self.answer_prompts: list[str] = []  # of the held requests, in arrival order
        self._arrived = threading.Condition()
        self._gate: asyncio.Event | None = None
        self._released = False

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()  # aiohttp keeps the body: the handler reads it again
        messages = body.get("messages") or []
        if fake_content.request_kind(messages) in self.hold_kinds:
            if self._gate is None:
                self._gate = asyncio.Event()
                if self._released:
                    self._gate.set()
            with self._arrived:
                self.answer_prompts.append(fake_content.user_text(messages))
                self._arrived.notify_all()
            await self._gate.wait()
        return await super().chat(request)

    def wait_for_answers(self, count: int) -> list[str]:
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.answer_prompts) >= count, timeout=60)
            return list(self.answer_prompts)

    def release(self) -> None:
        def open_gate() -> None:
            self._released = True
            if self._gate is not None:
                self._gate.set()

        assert self._loop is not None
        self._loop.call_soon_threadsafe(open_gate)


@pytest.fixture
def holding_server() -> Iterator[HoldingServer]:
    server = HoldingServer().start()
    yield server
    server.release()
    server.stop()


def _start_auto(client: TestClient, server: FakeModelServer) -> tuple[int, int]:
    project_id = client.post(f"{API}/projects", json={"name": "Sports"}).json()["id"]
    endpoint = {"alias": "fake", "base_url": server.url, "model": "fake-model"}
    assert client.post(f"{API}/endpoints", json=endpoint).status_code == 201
    settings = {"question_model": "fake", "answer_model": "fake", "max_concurrency": CONCURRENCY}
    assert client.patch(f"{API}/projects/{project_id}", json=settings).status_code == 200
    plan = {"levels": 1, "tags_per_level": 2, "questions_per_tag": 3}
    started = client.post(f"{API}/projects/{project_id}/tasks/auto", json=plan)
    assert started.status_code in (200, 201, 202), started.text
    return project_id, int(started.json()["task_id"])


def _questions_by_tag(settings: Settings) -> dict[int, set[str]]:
    store = open_store(settings)
    try:
        with store.session() as session:
            rows = session.execute(select(Question.tag_id, Question.text)).all()
    finally:
        store.close()
    by_tag: dict[int, set[str]] = {}
    for tag_id, text in rows:
        by_tag.setdefault(int(tag_id), set()).add(text)
    return by_tag


def _held_with_all_questions(server: HoldingServer, settings: Settings) -> dict[int, set[str]]:
    """Wait until both slots hold answers and all six questions are stored."""
    server.wait_for_answers(CONCURRENCY)
    for _ in range(600):  # the second tag's questions are committed right after its reply
        by_tag = _questions_by_tag(settings)
        if sum(len(texts) for texts in by_tag.values()) == 6:
            return by_tag
        threading.Event().wait(0.05)
    pytest.fail("the questions were not all stored")


def _final(client: TestClient, task_id: int) -> dict[str, Any]:
    last: dict[str, Any] = {}
    with client.stream("GET", f"{API}/tasks/{task_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                last = json.loads(line[6:])
    return last


def _sent_for(prompts: list[str], questions: set[str]) -> list[str]:
    return [prompt for prompt in prompts if any(text in prompt for text in questions)]


@pytest.mark.parametrize("how", ["rest", "cli"])
def test_a_tag_deleted_during_auto_gets_no_more_requests_and_counts_skipped(
    database: str,
    settings: Settings,
    holding_server: HoldingServer,
    cli: Callable[..., Result],
    how: str,
) -> None:
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        project_id, task_id = _start_auto(client, holding_server)
        by_tag = _held_with_all_questions(holding_server, settings)
        # Delete a tag whose answers are not all on their way (two of six are).
        held = holding_server.wait_for_answers(CONCURRENCY)
        doomed = next(tag for tag, texts in by_tag.items() if len(_sent_for(held, texts)) < 3)
        in_flight = len(_sent_for(held, by_tag[doomed]))
        if how == "rest":
            deleted = client.delete(f"{API}/projects/{project_id}/tags/{doomed}")
            assert deleted.status_code == 200, deleted.text
        else:
            label = client.get(f"{API}/projects/{project_id}/tags/{doomed}").json()["label"]
            result = cli("tags", "delete", "Sports", "--path", label, "--yes")
            assert result.exit_code == 0, result.output
        sent_before_delete = len(holding_server.answer_prompts)
        holding_server.release()
        final = _final(client, task_id)

    after_delete = holding_server.answer_prompts[sent_before_delete:]
    assert _sent_for(after_delete, by_tag[doomed]) == []  # nothing sent for the deleted tag
    assert len(after_delete) == 3 - (CONCURRENCY - in_flight)  # the other tag's rest
    assert final["status"] == "succeeded", final
    answers = final["counters"]["answers"]
    assert (answers["planned"], answers["done"], answers["failed"]) == (6, 3, 0)
    assert answers["skipped"] == 3  # the deleted tag's three: unsent, or sent and not stored
    store = open_store(settings)
    try:
        with store.session() as session:
            assert session.scalar(select(func.count(Answer.id))) == 3
            events = session.scalars(
                select(TaskEvent.message).where(TaskEvent.task_id == task_id)
            ).all()
    finally:
        store.close()
    texts = [*events, str(final.get("last_error") or "")]
    assert not [text for text in texts if any(word in text for word in SQL_WORDS)]


def test_a_project_deleted_during_auto_gets_no_more_requests(
    database: str, settings: Settings, holding_server: HoldingServer
) -> None:
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        project_id, task_id = _start_auto(client, holding_server)
        _held_with_all_questions(holding_server, settings)
        deleted = client.delete(f"{API}/projects/{project_id}")
        assert deleted.status_code == 200, deleted.text
        sent_before_delete = len(holding_server.answer_prompts)
        holding_server.release()
        runner = client.app.state.runner  # type: ignore[attr-defined]
        for _ in range(600):  # the run ends once its held replies are back
            if not runner.is_running(task_id):
                break
            threading.Event().wait(0.05)
        assert not runner.is_running(task_id)
        assert client.get(f"{API}/projects").status_code == 200

    assert holding_server.answer_prompts[sent_before_delete:] == []
    store = open_store(settings)
    try:
        with store.session() as session:
            left = [session.scalar(select(func.count(t.id))) for t in (Tag, Question, Answer)]
    finally:
        store.close()
    assert left == [0, 0, 0]


def test_generating_questions_for_a_tag_deleted_meanwhile_answers_404_not_500(
    database: str, settings: Settings, holding_server: HoldingServer
) -> None:
    holding_server.hold_kinds = {"list"}
    app = create_app(settings)
    # A server error comes back as the 500 a user would see, not as an exception here.
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        project_id = client.post(f"{API}/projects", json={"name": "Sports"}).json()["id"]
        endpoint = {"alias": "fake", "base_url": holding_server.url, "model": "fake-model"}
        client.post(f"{API}/endpoints", json=endpoint)
        models = {"question_model": "fake", "answer_model": "fake"}
        client.patch(f"{API}/projects/{project_id}", json=models)
        base = f"{API}/projects/{project_id}/tags"
        tag_id = client.post(base, json={"label": "Rowing"}).json()["id"]
        replies: list[Any] = []
        generating = threading.Thread(
            target=lambda: replies.append(
                client.post(f"{base}/{tag_id}/questions/generate", json={"count": 2})
            )
        )
        generating.start()
        holding_server.wait_for_answers(1)  # the list request is on its way, held
        assert client.delete(f"{base}/{tag_id}").status_code == 200
        holding_server.release()
        generating.join(timeout=60)

    (reply,) = replies
    assert reply.status_code in (404, 409), reply.text
    detail = reply.json()["detail"]
    assert f"tag {tag_id}" in detail and "deleted" in detail
    assert not any(word in detail for word in SQL_WORDS)
