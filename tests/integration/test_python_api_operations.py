"""The Python API's operations one by one: tags, tree files, prompts, endpoints and keys,
tasks, records; bad input raises the error the CLI reports for the same input."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from distillset import (
    ConflictError,
    DistillsetError,
    InvalidInputError,
    NotFoundError,
    Project,
    api,
    resolve,
)
from distillset.auto import jobs
from distillset.config import Settings
from distillset.store import Store
from distillset.testing import FakeModelServer

Cli = Callable[..., Result]
NAME = "Sports"


@pytest.fixture
def project(settings: Settings, fake_server: FakeModelServer) -> Iterator[Project]:
    api.add_endpoint("fake", model="fake-model", base_url=fake_server.url, settings=settings)
    with Project.create(NAME, settings=settings) as created:
        created.use_models(question="fake")
        created.add_tag("Ball games > Football")
        yield created


def test_tags_are_edited_by_path_and_the_tree_round_trips(project: Project) -> None:
    assert project.add_tag("Athletics > Sprint")["path"] == "Athletics > Sprint"
    assert project.move_tag("Athletics > Sprint", under="Ball games")["path"] == (
        "Ball games > Sprint"
    )
    assert project.move_tag("Ball games > Sprint", under=None)["path"] == "Sprint"
    assert project.rename_tag("Sprint", "Sprinting")["path"] == "Sprinting"
    assert project.delete_tag("Athletics") == {"tags": 1, "questions": 0, "answers": 0}
    text = project.export_tree("json")
    before = project.tree()
    assert project.import_tree(Path(_write(project, text))) == {"read": 3, "created": 0}
    assert project.tree() == before


def _write(project: Project, text: str) -> str:
    path = Path(project.settings.home) / "tree.json"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_from_data_merges_and_refuses_an_empty_tree(project: Project) -> None:
    added = project.import_tree([{"label": "Ball games", "children": ["Football", "Rugby"]}])
    assert added == {"read": 3, "created": 1}
    assert project.import_tree(["Rules"], under="Ball games > Rugby")["created"] == 1
    with pytest.raises(InvalidInputError, match="holds no tags"):
        project.import_tree([])


def test_prompts_show_set_and_reset(project: Project) -> None:
    default = project.prompt("questions")
    assert default["overridden"] is False
    assert default["required"] == ["path", "count", "existing"]
    project.set_prompt("questions", "Write {count} questions on {path}; not these: {existing}")
    assert project.prompt("questions")["template"].startswith("Write {count} questions")
    assert project.reset_prompt("questions") is True
    assert project.reset_prompt("questions") is False
    assert project.prompt("questions") == default


def test_endpoint_settings_and_keys_never_show_a_key(settings: Settings) -> None:
    api.add_endpoint(
        "local", model="m", base_url="http://127.0.0.1:9/v1", api_key_env="LOCAL_API_KEY"
    )
    # Naming a keys-file entry replaces the env var, as `model set --key-name` does.
    changed = api.set_endpoint("local", api_key_name="local", temperature=0.0, settings=settings)
    assert (changed["api_key_env"], changed["api_key_name"]) == (None, "local")
    assert (changed["temperature"], changed["key_set"]) == (0.0, False)
    api.set_key("local", "sk-secret-value-123", settings=settings)
    assert api.list_keys(settings=settings) == ["local"]
    shown = api.show_endpoint("local", settings=settings)
    assert shown["key_set"] is True and "sk-secret-value-123" not in repr(shown)
    api.remove_key("local", settings=settings)
    assert api.list_keys(settings=settings) == []
    api.remove_endpoint("local", settings=settings)
    assert api.list_endpoints(settings=settings) == []


def test_tasks_are_cancelled_and_resumed_by_id(
    project: Project, store: Store, fake_server: FakeModelServer
) -> None:
    with store.session() as session:
        queued = jobs.create_questions_job(
            session,
            project.settings,
            resolve.project_id(session, NAME),
            tag_id=resolve.tag_at(
                session, resolve.project_id(session, NAME), "Ball games > Football"
            ).id,
            count=2,
        )
    assert project.cancel(queued.task_id) == {
        "id": queued.task_id,
        "status": "cancelled",
        "cancel_requested": False,
    }
    assert project.task(queued.task_id)["status"] == "cancelled"
    summary = api.resume_task(queued.task_id, no_cache=True, settings=project.settings)
    assert summary["status"] == "succeeded"
    assert api.show_task(queued.task_id, settings=project.settings)["params"]["no_cache"] is True
    assert len(project.questions(tag="Ball games > Football")) == 2
    with pytest.raises(ConflictError, match="already finished"):
        api.cancel_task(queued.task_id, settings=project.settings)


def test_records_are_edited_noted_labelled_and_deleted(project: Project) -> None:
    project.generate_questions("Ball games > Football", 3)
    project.generate_answers()
    first, second, third = (r["id"] for r in project.records()["records"])
    assert project.edit_record(first, reasoning="")["reasoning"] is None
    project.note(first, "good")
    project.note(first, None)
    assert project.record(first)["note"] is None
    assert project.label([first, second], add=["keep"]) == 2
    assert project.label([second], remove=["keep"]) == 1
    assert [r["id"] for r in project.records(label="keep")["records"]] == [first]
    assert project.duplicates() == {"groups": [], "labelled": 0}
    assert project.delete_records([third]) == {"records": 1, "questions_unanswered": 1}
    assert project.questions(after=project.questions()[0]["id"])[-1]["answered"] is False


def test_records_are_chosen_by_tag_path_or_tag_id(project: Project, tmp_path: Path) -> None:
    project.add_tag("Running")
    project.generate_questions("Ball games > Football", 2)
    project.generate_questions("Running", 1)
    project.generate_answers()
    with project.store.session() as session:
        football = resolve.tag_id(
            session, resolve.project_id(session, NAME), "Ball games > Football"
        )
    assert football is not None
    by_path = project.records(tag="Ball games", count=True)  # a path names its whole subtree
    by_id = project.records(tag_id=football, count=True)
    assert by_path == by_id and by_path["total"] == 2
    assert {r["tag_path"] for r in by_path["records"]} == {"Ball games > Football"}
    assert project.confirm(tag_id=football) == 2
    assert project.score(3.0, tag="Running") == 1
    assert project.records(confirmed=True, count=True)["total"] == 2
    assert project.duplicates(tag_id=football) == project.duplicates(tag="Ball games")
    exported = project.export(tmp_path / "football.jsonl", tag_id=football)
    assert exported["records"] == 2
    assert project.export(tmp_path / "running.jsonl", tag="Running")["records"] == 1
    with pytest.raises(InvalidInputError, match=r"give tag \(a path\) or tag_id, not both"):
        project.records(tag="Running", tag_id=football)
    with pytest.raises(NotFoundError, match="no tag 'Swimming' in project 'Sports'"):
        project.confirm(tag="Swimming")
    with pytest.raises(InvalidInputError, match="tag_id is a tag's id"):
        project.records(tag_id="Ball games")
    with pytest.raises(NotFoundError, match=f"no tag with id {football + 99} in project 'Sports'"):
        project.judge("fake", tag_id=football + 99)


def test_deleting_a_project_through_the_api(project: Project, settings: Settings) -> None:
    assert project.delete() == {"deleted": NAME, "tags": 2, "questions": 0, "answers": 0}
    with pytest.raises(NotFoundError, match="no project named 'Sports'"):
        Project(NAME, settings=settings)


# Each case: the command line, and the same operation from Python.
BAD_INPUT: list[tuple[list[str], Callable[[Project], Any]]] = [
    (
        ["tags", "rename", NAME, "--path", "Nope", "--to", "X"],
        lambda p: p.rename_tag("Nope", "X"),
    ),
    (
        ["tags", "move", NAME, "--path", "Ball games", "--under", "Ball games > Football"],
        lambda p: p.move_tag("Ball games", "Ball games > Football"),
    ),
    (
        ["tags", "add", NAME, "--path", "Ball games > \x1b"],
        lambda p: p.add_tag("Ball games > \x1b"),
    ),
    (["tags", "export", NAME, "--format", "xml"], lambda p: p.export_tree("xml")),
    (["prompts", "show", NAME, "colour"], lambda p: p.prompt("colour")),
    (["prompts", "reset", NAME, "colour"], lambda p: p.reset_prompt("colour")),
    (
        ["model", "add", "fake", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"],
        lambda p: api.add_endpoint("fake", model="m", base_url="http://127.0.0.1:9/v1"),
    ),
    (["model", "show", "nope"], lambda p: api.show_endpoint("nope")),
    (
        ["model", "set", "fake", "--temperature", "9"],
        lambda p: api.set_endpoint("fake", temperature=9.0),
    ),
    (["model", "set", "fake"], lambda p: api.set_endpoint("fake")),
    (["dataset", "edit", NAME, "999", "--answer", "x"], lambda p: p.edit_record(999, answer="x")),
    (["dataset", "note", NAME, "999", "x"], lambda p: p.note(999, "x")),
    (["dataset", "delete", NAME, "--yes"], lambda p: p.delete_records()),
    (["dataset", "list", NAME, "--tag", "Nope"], lambda p: p.records(tag="Nope")),
    (["dataset", "confirm", NAME, "--tag", ""], lambda p: p.confirm(tag="")),
    (["export", NAME, "--tag", "Ball games > Nope"], lambda p: p.export(tag="Ball games > Nope")),
    (["tasks", "cancel", "999"], lambda p: api.cancel_task(999)),
    (["tasks", "show", "999"], lambda p: p.task(999)),
]


@pytest.mark.parametrize(
    ("command", "call"), BAD_INPUT, ids=[" ".join(command[:2]) for command, _ in BAD_INPUT]
)
def test_bad_input_raises_the_error_the_cli_reports(
    project: Project, cli: Cli, command: list[str], call: Callable[[Project], Any]
) -> None:
    result = cli(*command)
    assert result.exit_code == 2, result.output
    with pytest.raises(DistillsetError) as raised:
        call(project)
    assert result.stderr == f"error: {raised.value}\n"


def test_a_bad_prompt_template_is_refused_like_on_the_cli(
    project: Project, cli: Cli, tmp_path: Path
) -> None:
    template = tmp_path / "answer.txt"
    template.write_text("No placeholder here", encoding="utf-8")
    result = cli("prompts", "set", NAME, "answer", str(template))
    with pytest.raises(InvalidInputError) as raised:
        project.set_prompt("answer", "No placeholder here")
    assert result.exit_code == 2 and result.stderr == f"error: {raised.value}\n"
