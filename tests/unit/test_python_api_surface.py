"""The Python API covers every operation of the command line, each call documented."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

from distillset import Project, api
from distillset.cli import app

# What runs an interface rather than an operation on the data.
INTERFACES = {"serve", "demo"}

# Each command, and its Python call: a `Project` method or a function of `distillset.api`.
CALLS = {
    "project create": "Project.create",
    "project list": "list_projects",
    "project show": "Project.info",
    "project set": "Project.configure",
    "project delete": "Project.delete",
    "model add": "add_endpoint",
    "model set": "set_endpoint",
    "model list": "list_endpoints",
    "model show": "show_endpoint",
    "model remove": "remove_endpoint",
    "model test": "test_endpoint",
    "model available": "available_models",
    "keys set": "set_key",
    "keys list": "list_keys",
    "keys remove": "remove_key",
    "tags add": "Project.add_tag",
    "tags rename": "Project.rename_tag",
    "tags move": "Project.move_tag",
    "tags delete": "Project.delete_tag",
    "tags import": "Project.import_tree",
    "tags export": "Project.export_tree",
    "tags tree": "Project.tree",
    "tags generate": "Project.generate_tags",
    "questions generate": "Project.generate_questions",
    "questions list": "Project.questions",
    "questions edit": "Project.edit_question",
    "questions delete": "Project.delete_questions",
    "questions move": "Project.move_questions",
    "questions export": "Project.export_questions",
    "answers generate": "Project.generate_answers",
    "auto": "Project.auto",
    "judge": "Project.judge",
    "train": "Project.train",
    "eval": "Project.evaluate",
    "export": "Project.export",
    "prompts show": "Project.prompt",
    "prompts set": "Project.set_prompt",
    "prompts reset": "Project.reset_prompt",
    "dataset list": "Project.records",
    "dataset show": "Project.record",
    "dataset tokens": "Project.uncertain_tokens",
    "dataset edit": "Project.edit_record",
    "dataset refine": "Project.refine",
    "answers score-tokens": "Project.score_tokens",
    "dataset history": "Project.history",
    "dataset restore": "Project.restore",
    "dataset confirm": "Project.confirm",
    "dataset unconfirm": "Project.unconfirm",
    "dataset score": "Project.score",
    "dataset note": "Project.note",
    "dataset label": "Project.label",
    "dataset delete": "Project.delete_records",
    "dataset duplicates": "Project.duplicates",
    "dataset import": "Project.import_dataset",
    "dataset flags": "Project.flags",
    "dataset decontaminate": "Project.decontaminate",
    "dataset select": "Project.select",
    "dataset rate": "Project.rate_difficulty",
    "report": "Project.quality_report",
    "conversations list": "Project.conversations",
    "conversations show": "Project.conversation",
    "conversations confirm": "Project.confirm_conversations",
    "conversations score": "Project.score_conversations",
    "conversations note": "Project.note_conversation",
    "conversations edit": "Project.edit_turn",
    "conversations delete": "Project.delete_conversations",
    "conversations judge": "Project.judge_conversations",
    "usage": "Project.usage",
    "tasks list": "list_tasks",
    "tasks show": "show_task",
    "tasks cancel": "cancel_task",
    "tasks resume": "resume_task",
    "worker": "run_worker",
}


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    if hasattr(command, "list_commands"):
        for name in command.list_commands(None):
            yield from _commands(command.get_command(None, name), (*path, name))
    else:
        yield " ".join(path)


def _call(name: str) -> Any:
    owner, _, attribute = name.rpartition(".")
    return getattr(Project if owner == "Project" else api, attribute)


def test_every_command_has_a_python_call() -> None:
    commands = set(_commands(typer.main.get_command(app))) - INTERFACES
    assert sorted(commands - set(CALLS)) == []
    assert sorted(set(CALLS) - commands) == []
    for name in CALLS.values():
        assert callable(_call(name)), name


def test_every_public_call_is_documented() -> None:
    methods = [m for n, m in inspect.getmembers(Project) if not n.startswith("_")]
    functions = [getattr(api, name) for name in api.__all__]
    undocumented = [
        getattr(call, "__qualname__", repr(call))
        for call in [*methods, *functions]
        if (inspect.isroutine(call) or inspect.isclass(call)) and not inspect.getdoc(call)
    ]
    assert undocumented == []
    guide = (Path(__file__).parents[2] / "docs" / "python-api.md").read_text(encoding="utf-8")
    missing = [name for name in api.__all__ if name[0].islower() and name not in guide]
    assert missing == []
