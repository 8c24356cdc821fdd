"""A whole dataset built from Python only, through real HTTP against the fake model server:
endpoint, tree (imported, edited, exported), prompts, generation, review, judge, export, tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillset import Project, api
from distillset.config import Settings
from distillset.testing import FakeModelServer
from helpers import assert_openai_chat_line, read_jsonl

TOPIC = "Physical Education and Sports"


def labels(nodes: list[dict[str, Any]]) -> list[Any]:
    """The tree's labels, nested, without ids or counts."""
    return [(node["label"], labels(node["children"])) for node in nodes]


def test_a_dataset_built_from_python_only(
    database: str, settings: Settings, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    # An endpoint, checked with one tiny request.
    added = api.add_endpoint("fake", model="fake-model", base_url=fake_server.url)
    assert (added["alias"], added["base_url"]) == ("fake", fake_server.url)
    assert api.test_endpoint("fake", settings=settings)["ok"] is True
    assert [e["alias"] for e in api.list_endpoints(settings=settings)] == ["fake"]

    project = Project.create(TOPIC, settings=settings)
    project.use_models(question="fake")
    assert [p["name"] for p in api.list_projects(settings=settings)] == [TOPIC]

    # The tree: imported from data and from a file, then edited by path.
    assert project.import_tree({"Ball games": {"Football": None, "Basketball": None}}) == {
        "read": 3,
        "created": 3,
    }
    outline = tmp_path / "athletics.md"
    outline.write_text("- Athletics\n  - Sprint\n  - Relay\n", encoding="utf-8")
    assert project.import_tree(outline) == {"read": 3, "created": 3}
    assert project.add_tag("Gymnastics > Floor")["path"] == "Gymnastics > Floor"
    renamed = project.rename_tag("Ball games > Basketball", "Netball")
    assert renamed["path"] == "Ball games > Netball"
    moved = project.move_tag("Gymnastics > Floor", under="Athletics")
    assert moved["path"] == "Athletics > Floor"
    assert project.delete_tag("Gymnastics") == {"tags": 1, "questions": 0, "answers": 0}
    tree = labels(project.tree())
    assert tree == [
        ("Ball games", [("Football", []), ("Netball", [])]),
        ("Athletics", [("Sprint", []), ("Relay", []), ("Floor", [])]),
    ]
    # Exported and read back into another project: the same tree.
    exported_tree = tmp_path / "tree.yaml"
    exported_tree.write_text(project.export_tree("yaml"), encoding="utf-8")
    with Project.create("Copy", settings=settings) as copy:
        copy.import_tree(exported_tree)
        assert labels(copy.tree()) == tree

    # A project's own answer prompt is the one the teacher receives.
    project.set_prompt("answer", "Answer as an experienced coach: {question}")
    assert project.prompt("answer")["overridden"] is True

    asked = project.generate_questions("Ball games > Football", 2)
    assert asked["status"] == "succeeded"
    answered = project.generate_answers(tag="Ball games")
    assert answered["counters"]["answers"]["done"] == 2
    assert sum("Answer as an experienced coach: " in p for p in fake_server.stats().prompts) == 2
    assert project.reset_prompt("answer") is True

    # Review: edit, note, duplicates, judge, confirm, delete.
    first, second = project.records()["records"]
    edited = project.edit_record(second["id"], answer=first["answer"])
    assert edited["answer"] == first["answer"]
    project.note(first["id"], "checked by hand")
    assert project.record(first["id"])["note"] == "checked by hand"
    report = project.duplicates(label="duplicate")
    assert report["labelled"] == 1
    assert [g["duplicates"] for g in report["groups"] if g["part"] == "answer"] == [[second["id"]]]
    assert [r["id"] for r in project.records(label="duplicate")["records"]] == [second["id"]]
    assert project.judge()["status"] == "succeeded"
    assert project.records(scored=True, count=True)["total"] == 2
    assert project.confirm([first["id"]]) == 1
    assert project.delete_records(label="duplicate") == {"records": 1, "questions_unanswered": 1}

    # Export what is left.
    result = project.export(tmp_path / "train.jsonl", format="messages", confirmed=True)
    assert result["records"] == 1
    (line,) = read_jsonl(tmp_path / "train.jsonl")
    assert_openai_chat_line(line)
    assert line["messages"][-2] == {"role": "user", "content": first["question"]}

    # Every run above is a task, listed and shown like `distillset tasks`.
    tasks = project.tasks()
    assert [t["kind"] for t in tasks] == ["judge", "answers", "questions"]
    shown = api.show_task(tasks[0]["id"], settings=settings)
    assert (shown["project"], shown["status"]) == (TOPIC, "succeeded")
    assert isinstance(shown["events"], list)
    assert [t["id"] for t in api.list_tasks(TOPIC, settings=settings)] == [t["id"] for t in tasks]
    project.close()
