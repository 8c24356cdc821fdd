"""Conversations from Python only, through real HTTP against the fake model server: the
multi-turn setting, generation, review (list, confirm, score, note, edit a turn, delete),
the judge of the whole conversation, and an export read back with `datasets`."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from distillset import Project, api
from distillset.config import Settings
from distillset.domain import InvalidInputError, NotFoundError
from distillset.testing import FakeModelServer

TOPIC = "Physical Education and Sports"


def test_conversations_made_reviewed_judged_and_exported_from_python(
    database: str, settings: Settings, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    api.add_endpoint("fake", model="fake-model", base_url=fake_server.url)
    project = Project.create(TOPIC, settings=settings)
    project.use_models(question="fake")
    setting = project.multi_turn(
        scenario="a student asking a PE teacher", user_role="a student", rounds=2
    )
    assert (setting["rounds"], setting["user_role"], setting["user_model"]) == (
        2,
        "a student",
        None,
    )
    with pytest.raises(InvalidInputError, match="rounds must be between 1 and 20"):
        project.multi_turn(rounds=0)

    plan = project.plan(levels=1, tags=2, questions=2, dataset_type="both")
    assert (plan.answers, plan.conversations, plan.turns) == (4, 4, 12)
    assert plan.calls["conversation"] == 8 and plan.calls["follow_up"] == 4
    summary = project.auto(levels=1, tags=2, questions=2, dataset_type="both")
    assert summary["status"] == "succeeded"
    assert summary["counters"]["turns"]["done"] == 12

    found = project.conversations()
    assert len(found) == 4 and all(c["complete"] and len(c["turns"]) == 4 for c in found)
    first, second = found[0]["id"], found[1]["id"]
    assert project.confirm_conversations([first]) == 1
    assert project.score_conversations(4.5, [first], reason="clear") == 1
    project.note_conversation(first, "check turn 3")
    edited = project.edit_turn(first, 3, content="A better last reply.", reasoning="")
    assert edited["turns"][3]["content"] == "A better last reply."
    assert edited["turns"][3]["reasoning"] is None
    with pytest.raises(InvalidInputError, match="only the teacher's turns"):
        project.edit_turn(first, 2, reasoning="no")
    with pytest.raises(NotFoundError):
        project.edit_turn(first, 9, content="x")
    shown = project.conversation(first)
    assert (shown["confirmed"], shown["score"], shown["note"]) == (True, 4.5, "check turn 3")
    assert project.conversations(confirmed=True)[0]["id"] == first

    judged = project.judge_conversations()
    assert judged["status"] == "succeeded"
    assert judged["counters"]["judged"] == {"planned": 3, "done": 3, "failed": 0, "skipped": 0}
    assert all(c["score"] is not None for c in project.conversations())
    assert project.delete_conversations([second]) == 1
    assert len(project.conversations()) == 3

    target = tmp_path / "chat.jsonl"
    result = project.export(target, format="messages", dataset_type="multi", confirmed=True)
    assert (result["records"], result["conversations"]) == (1, 1)
    rows = datasets.load_dataset(
        "json", data_files=str(target), split="train", cache_dir=str(tmp_path / "c")
    )
    assert rows[0]["messages"][-1]["content"] == "A better last reply."

    # The deleted conversation's question gets a new one, asked afresh.
    again = project.generate_answers(dataset_type="multi")
    assert again["counters"]["turns"]["done"] == 3
    assert len(project.conversations()) == 4
