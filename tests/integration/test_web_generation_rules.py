"""Generation awaited in a web request: the task rule across processes, fresh samples, counts,
and the questions listing's answer ids."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest
from fastapi.testclient import TestClient

from distillset.auto import create_answers_job
from distillset.config import Settings
from distillset.domain import TaskKind, TaskStatus
from distillset.kinds import run_task
from distillset.store import Store, Task
from distillset.store.models import utcnow
from distillset.testing import FakeModelServer
from helpers import make_web_project

API = "/api/v1"
HX = {"HX-Request": "true"}


@pytest.fixture
def project_id(client: TestClient, fake_server: FakeModelServer) -> int:
    """A project whose question and answer models are the fake server."""
    return make_web_project(client, fake_server.url)


def _running_task(store: Store, project_id: int, owner: str) -> int:
    """A task row as a living process running it would leave (fresh heartbeat)."""
    with store.session() as session:
        task = Task(
            project_id=project_id,
            kind=TaskKind.AUTO_DISTILL.value,
            params={},
            status=TaskStatus.RUNNING.value,
            counters={},
            owner=owner,
            heartbeat_at=utcnow(),
            started_at=utcnow(),
        )
        session.add(task)
        session.flush()
        return task.id


def _question(client: TestClient, project_id: int, label: str = "Running") -> int:
    base = f"{API}/projects/{project_id}"
    tag = client.post(f"{base}/tags", json={"label": label}).json()["id"]
    created = client.post(f"{base}/tags/{tag}/questions/generate", json={"count": 1}).json()
    return int(created["created"][0])


def test_generation_is_refused_while_another_process_runs_a_task(
    client: TestClient, project_id: int, store: Store, fake_server: FakeModelServer
) -> None:
    base = f"{API}/projects/{project_id}"
    tag = client.post(f"{base}/tags", json={"label": "Running"}).json()["id"]
    # The parent of the test run stands for a CLI `distillset auto` in another process.
    owner = f"{socket.gethostname()}:{os.getppid()}:a1b2c3"
    task_id = _running_task(store, project_id, owner)
    # The task claim's own refusal (the one check of a busy project), with its cancel hint.
    expected = (
        f"task {task_id} (auto_distill) is already running on this project in process {owner}"
    )
    hint = f"stop it with `distillset tasks cancel {task_id}`"
    calls = [
        (f"{base}/tags/generate", {"count": 2}),
        (f"{base}/tags/{tag}/questions/generate", {"count": 2}),
    ]
    for url, body in calls:
        refused = client.post(url, json=body)
        assert refused.status_code == 409
        assert refused.json()["detail"].startswith(expected)
        assert refused.json()["detail"].endswith(hint)
    page = client.post(
        f"/projects/{project_id}/distill/generate-tags", data={"count": "2"}, headers=HX
    )
    assert page.status_code == 409 and expected in page.text
    assert page.headers["HX-Retarget"] == "#messages"
    assert fake_server.stats().total == 0

    with store.session() as session:
        session.get_one(Task, task_id).status = TaskStatus.SUCCEEDED.value
    question = _question(client, project_id, "Cycling")
    _running_task(store, project_id, f"{socket.gethostname()}:{os.getppid()}:d4e5f6")
    before = fake_server.stats().total
    answer = client.post(f"{base}/questions/{question}/answer")
    assert answer.status_code == 409 and "is already running" in answer.json()["detail"]
    page = client.post(f"/projects/{project_id}/distill/questions/{question}/answer", headers=HX)
    assert page.status_code == 409 and "is already running" in page.text
    assert fake_server.stats().total == before


def test_a_task_of_this_server_or_a_dead_process_does_not_block(
    client: TestClient, project_id: int, store: Store
) -> None:
    host = socket.gethostname()
    _running_task(store, project_id, f"{host}:{os.getpid()}:a1b2c3")  # this server's own run
    with store.session() as session:
        dead = Task(
            project_id=project_id,
            kind=TaskKind.ANSWERS.value,
            params={},
            status=TaskStatus.RUNNING.value,
            counters={},
            owner=f"{host}:{2**22 + 7}:000000",  # above the usual pid_max: no such process
            heartbeat_at=utcnow(),
        )
        session.add(dead)
    created = client.post(f"{API}/projects/{project_id}/tags/generate", json={"count": 2})
    assert created.status_code == 200 and len(created.json()["created"]) == 2


def test_fresh_answer_asks_the_model_again(
    client: TestClient, project_id: int, fake_server: FakeModelServer
) -> None:
    base = f"{API}/projects/{project_id}"
    question = _question(client, project_id)
    first = client.post(f"{base}/questions/{question}/answer").json()
    record = first["answer_id"]
    client.patch(f"{base}/records/{record}", json={"confirmed": True, "score": 4})
    assert client.delete(f"{base}/records/{record}").status_code == 200

    # A deleted answer is not replayed from the stored reply: the model is asked again.
    sent = fake_server.stats().total
    cached = client.post(f"{base}/questions/{question}/answer").json()
    assert cached["answer_id"] and fake_server.stats().total == sent + 1
    sent += 1
    # Fresh: a new request for the unanswered question, and for an answered one it
    # replaces the answer, which starts unreviewed again.
    client.patch(f"{base}/records/{cached['answer_id']}", json={"confirmed": True, "score": 4})
    resampled = client.post(f"{base}/questions/{question}/answer", json={"fresh": True}).json()
    assert resampled["answer_id"] == cached["answer_id"] and resampled["error"] is None
    assert resampled["skipped"] is False
    assert fake_server.stats().total == sent + 1
    stored = client.get(f"{base}/records/{resampled['answer_id']}").json()
    assert (stored["confirmed"], stored["score"], stored["scored_at"]) == (False, None, None)
    assert stored["answer"]

    page = client.post(
        f"/projects/{project_id}/distill/questions/{question}/answer",
        data={"fresh": "true"},
        headers=HX,
    )
    assert page.status_code == 200 and "New sample" in page.text
    assert fake_server.stats().total == sent + 2


def test_fresh_is_accepted_by_the_task_api(client: TestClient, project_id: int) -> None:
    base = f"{API}/projects/{project_id}"
    _question(client, project_id)
    started = client.post(f"{base}/tasks/answers", json={"fresh": True})
    assert started.status_code == 202
    assert client.post(f"{base}/tasks/answers", json={"fresh": "maybe"}).status_code == 422


def test_count_adds_that_many_up_to_the_cli_bound(client: TestClient, project_id: int) -> None:
    base = f"{API}/projects/{project_id}"
    assert client.post(f"{base}/tags/generate", json={"count": 101}).status_code == 422
    first = client.post(f"{base}/tags/generate", json={"count": 2}).json()
    assert len(first["created"]) == 2
    # "count" adds that many to what exists (the CLI's --count is the total instead).
    more = client.post(f"{base}/tags/generate", json={"count": 3}).json()
    assert (more["wanted"], len(more["created"])) == (3, 3)
    top = client.get(f"{base}/tags").json()
    assert len(top["items"]) == 5
    tag = first["created"][0]
    assert (
        client.post(f"{base}/tags/{tag}/questions/generate", json={"count": 101}).status_code == 422
    )
    page = client.post(
        f"/projects/{project_id}/distill/generate-tags", data={"count": "150"}, headers=HX
    )
    assert page.status_code == 422


def test_questions_listing_gives_the_answer_id(client: TestClient, project_id: int) -> None:
    base = f"{API}/projects/{project_id}"
    question = _question(client, project_id)
    answer_id = client.post(f"{base}/questions/{question}/answer").json()["answer_id"]
    items: list[dict[str, Any]] = client.get(f"{base}/questions").json()["items"]
    assert [(q["id"], q["answered"], q["answer_id"]) for q in items] == [
        (question, True, answer_id)
    ]


def _running_item_task(store: Store, project_id: int, kind: TaskKind, scope: str | None) -> int:
    """A living task of this server on one item (or, scope None, on the whole project)."""
    task_id = _running_task(store, project_id, f"{socket.gethostname()}:{os.getpid()}:a1b2c3")
    with store.session() as session:
        task = session.get_one(Task, task_id)
        task.kind, task.scope = kind.value, scope
    return task_id


@pytest.mark.usefixtures("database")
def test_generation_from_the_web_is_a_task_row(
    client: TestClient, project_id: int, store: Store
) -> None:
    base = f"{API}/projects/{project_id}"
    created = client.post(f"{base}/tags/generate", json={"count": 2}).json()
    tag = created["created"][0]
    questions = client.post(f"{base}/tags/{tag}/questions/generate", json={"count": 2}).json()
    answer = client.post(f"{base}/questions/{questions['created'][0]}/answer").json()
    tasks = client.get(f"{base}/tasks").json()
    by_kind = {task["kind"]: task for task in tasks}
    assert set(by_kind) == {"tags", "questions", "answers"}
    assert all(task["status"] == "succeeded" for task in tasks)
    # Each shows its progress, and what it made is the reply's.
    assert by_kind["tags"]["counters"]["tags"]["done"] == 2
    assert by_kind["tags"]["counters"]["created"]["tags"] == created["created"]
    assert by_kind["questions"]["counters"]["created"]["questions"] == questions["created"]
    assert by_kind["answers"]["counters"]["created"]["answers"] == [answer["answer_id"]]
    with store.session() as session:
        scopes = {task.kind: task.scope for task in session.query(Task)}
    assert scopes == {
        "tags": "children:topic",
        "questions": f"questions:{tag}",
        "answers": f"question:{questions['created'][0]}",
    }


@pytest.mark.usefixtures("database")
def test_jobs_on_different_items_run_side_by_side_and_on_one_item_do_not(
    client: TestClient, project_id: int, store: Store, fake_server: FakeModelServer
) -> None:
    base = f"{API}/projects/{project_id}"
    first, second = client.post(f"{base}/tags/generate", json={"count": 2}).json()["created"]
    busy = _running_item_task(store, project_id, TaskKind.QUESTIONS, f"questions:{first}")
    other_tag = client.post(f"{base}/tags/{second}/questions/generate", json={"count": 1})
    assert other_tag.status_code == 200 and len(other_tag.json()["created"]) == 1
    sent = fake_server.stats().total
    same_tag = client.post(f"{base}/tags/{first}/questions/generate", json={"count": 1})
    assert same_tag.status_code == 409
    assert same_tag.json()["detail"].startswith(f"task {busy} (questions) is already running")
    assert fake_server.stats().total == sent

    # A job on the whole project (no item) is every item's rival of its kind.
    question = other_tag.json()["created"][0]
    whole = _running_item_task(store, project_id, TaskKind.ANSWERS, None)
    refused = client.post(f"{base}/questions/{question}/answer")
    assert refused.status_code == 409 and f"task {whole} (answers)" in refused.json()["detail"]
    assert fake_server.stats().total == sent


@pytest.mark.usefixtures("database")
def test_a_resumed_new_sample_does_not_ask_again_for_an_answer_it_replaced(
    client: TestClient,
    project_id: int,
    store: Store,
    settings: Settings,
    fake_server: FakeModelServer,
) -> None:
    base = f"{API}/projects/{project_id}"
    question = _question(client, project_id)
    answer_id = client.post(f"{base}/questions/{question}/answer").json()["answer_id"]
    with store.session() as session:
        job = create_answers_job(
            session, settings, project_id, question_ids=[question], resample=True
        )
    assert job.plan.answers == 1
    sent = fake_server.stats().total
    asyncio.run(run_task(store, settings, job.task_id))
    assert fake_server.stats().total == sent + 1
    replaced = client.get(f"{base}/records/{answer_id}").json()["answer"]
    # Run again (as a resume would after a kill): the answer is newer than the job now.
    with store.session() as session:
        session.get_one(Task, job.task_id).status = TaskStatus.INTERRUPTED.value
    asyncio.run(run_task(store, settings, job.task_id))
    assert fake_server.stats().total == sent + 1
    assert client.get(f"{base}/records/{answer_id}").json()["answer"] == replaced
