"""`dataset import --auto-tag`: the question model places each imported question on the
best-matching leaf of the tree, batched, as a resumable task; through the real gateway and
the fake model server over HTTP, on both databases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import Result

from distillset import Project
from distillset.config import Settings
from distillset.domain import Origin
from distillset.kinds import run_task
from distillset.projects.endpoints import add_endpoint
from distillset.projects.lifecycle import create_project, get_project
from distillset.review import auto_tag as auto_tag_module
from distillset.store import Question, Store, Tag, TagPaths, Task
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from helpers import assert_refused_in_one_line

Cli = Callable[..., Result]
LEAVES = ("Ball games > Football", "Ball games > Tennis", "Running > Marathon")
# Question -> the leaf the fake model places it on (shared words); the last one shares a
# word with no leaf, and the fake answers with a path the tree lacks.
PLACED = {
    "How long is a football match?": "Ball games > Football",
    "Who serves first in tennis?": "Ball games > Tennis",
    "How should a beginner pace a marathon?": "Running > Marathon",
    "What is the offside rule in football?": "Ball games > Football",
}
LOST = "Why do people enjoy sport at all?"


@pytest.fixture
def project_name(database: str, store: Store, fake_server: FakeModelServer) -> str:
    with store.session() as session:
        endpoint = add_endpoint(session, "teacher", model="fake-model", base_url=fake_server.url)
        project = create_project(session, "Sports")
        project.question_model = endpoint
        project.max_retries = 0
        for path in LEAVES:
            add_tag_path(session, project, path, Origin.MANUAL)
    return "Sports"


def write_file(tmp_path: Path, questions: list[str]) -> Path:
    path = tmp_path / "import.jsonl"
    rows = [{"instruction": q, "input": "", "output": f"Answer to {q}"} for q in questions]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def placements(store: Store) -> dict[str, str]:
    with store.session() as session:
        paths = TagPaths(session)
        rows = session.execute(select(Question.text, Question.tag_id)).all()
        return {text: paths.path(tag_id) for text, tag_id in rows}


def test_auto_tag_places_each_question_on_its_leaf_and_fails_an_unknown_leaf_clearly(
    cli: Cli, store: Store, tmp_path: Path, project_name: str, fake_server: FakeModelServer
) -> None:
    path = write_file(tmp_path, [*PLACED, LOST])

    result = cli("dataset", "import", project_name, str(path), "--auto-tag", "--json")

    assert result.exit_code == 1, result.output  # one question could not be placed
    data = json.loads(result.stdout)
    assert (data["questions"], data["answers"], data["tag_path"]) == (5, 5, "Imported")
    summary = data["auto_tag"]
    assert summary["counters"]["placed"] == {"planned": 5, "done": 4, "failed": 1, "skipped": 0}
    assert "the reply names 'Miscellaneous', which is not a leaf of the tree" in (
        summary["last_error"] or summary["counters"].get("last_error", "")
    )
    placed = placements(store)
    for question, leaf in PLACED.items():
        assert placed[question] == leaf
    assert placed[LOST] == "Imported"  # not misplaced: still where the import put it
    # One batched prompt listed every leaf path and every question.
    assert fake_server.stats().by_kind == {"place": 1}
    prompt = fake_server.stats().prompts[0]
    assert all(f"- {leaf}" in prompt for leaf in LEAVES) and "- Imported" not in prompt
    assert all(question in prompt for question in [*PLACED, LOST])


def test_auto_tag_batches_and_resumes_without_asking_about_placed_questions(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    project_name: str,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(auto_tag_module, "BATCH_SIZE", 2)
    questions = [f"Football drill number {n} for a team?" for n in range(6)]
    path = write_file(tmp_path, questions)
    api = Project(project_name, settings=settings)
    moves = 0
    original = auto_tag_module.AutoTagRun._move

    def power_cut_after_one_batch(self: auto_tag_module.AutoTagRun, *args: object) -> int:
        nonlocal moves
        moves += 1
        if moves > 1:
            raise RuntimeError("power cut")
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(auto_tag_module.AutoTagRun, "_move", power_cut_after_one_batch)
    with store.session() as session:
        project = get_project(session, project_name)
        project.max_concurrency = 1
    with pytest.raises(RuntimeError, match="power cut"):
        api.import_dataset(path, auto_tag=True)
    monkeypatch.setattr(auto_tag_module.AutoTagRun, "_move", original)
    assert sum(leaf == "Ball games > Football" for leaf in placements(store).values()) == 2
    asked = fake_server.stats().by_kind["place"]
    with store.session() as session:
        task_id = session.scalars(select(Task.id).where(Task.kind == "auto_tag")).one()

    resumed = asyncio.run(run_task(store, settings, task_id))

    assert resumed["status"] == "succeeded"
    assert resumed["counters"]["placed"] == {"planned": 6, "done": 6, "failed": 0, "skipped": 0}
    assert all(leaf == "Ball games > Football" for leaf in placements(store).values())
    # Batches of 2: the placed batch is not asked about again, the one whose reply came
    # before the cut is read from the response cache, only the last one is sent.
    assert asked == 2
    assert fake_server.stats().by_kind["place"] - asked == 1


def test_auto_tag_needs_a_tree_and_a_model_and_refuses_before_writing(
    cli: Cli, store: Store, tmp_path: Path, database: str, fake_server: FakeModelServer
) -> None:
    with store.session() as session:
        add_endpoint(session, "teacher", model="fake-model", base_url=fake_server.url)
        create_project(session, "Bare")
    path = write_file(tmp_path, list(PLACED))
    assert_refused_in_one_line(
        cli,
        [
            (("dataset", "import", "Bare", str(path), "--auto-tag"), "no question model"),
            (
                ("dataset", "import", "Bare", str(path), "--auto-tag", "--model", "teacher"),
                "no leaf tag besides the import's",
            ),
        ],
    )
    with store.session() as session:
        assert session.scalars(select(Question)).all() == []
        assert [(t.label, t.project_id) for t in session.scalars(select(Tag)).all()] == []
    assert fake_server.stats().total == 0


def test_auto_tag_over_rest_starts_a_task(
    client: TestClient, store: Store, tmp_path: Path, project_name: str
) -> None:
    with store.session() as session:
        project_id = get_project(session, project_name).id
    path = write_file(tmp_path, list(PLACED))
    with path.open("rb") as handle:
        reply = client.post(
            f"/api/v1/projects/{project_id}/dataset/import",
            files={"file": ("import.jsonl", handle)},
            data={"auto_tag": "true"},
        )
    assert reply.status_code == 201, reply.text
    task_id = reply.json()["auto_tag_task_id"]
    for _ in range(200):
        task = client.get(f"/api/v1/tasks/{task_id}").json()
        if task["status"] in {"succeeded", "failed"}:
            break
        asyncio.run(asyncio.sleep(0.05))
    assert task["status"] == "succeeded", task
    placed = placements(store)
    assert all(placed[question] == leaf for question, leaf in PLACED.items())
