"""Fixtures of the training tests: one tiny student per session, a project of records the
fake teacher could have written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from distillset.domain import Origin  # noqa: E402
from distillset.projects.lifecycle import create_project  # noqa: E402
from distillset.store import Project, Store  # noqa: E402
from distillset.tags.tree import add_tag_path  # noqa: E402
from distillset.testing.fake_content import answer_for  # noqa: E402
from distillset.testing.tiny_student import build_tiny_student  # noqa: E402
from helpers import add_record, only_project  # noqa: E402

TAGS = ("Rowing > Technique", "Rowing > Training", "Nutrition")


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.set_num_threads(1)
    return build_tiny_student(tmp_path_factory.mktemp("tiny-student"))


@pytest.fixture
def records_project(store: Store) -> Iterator[Project]:
    """Three tags of four records each, answered as the fake teacher answers."""
    with store.session() as session:
        project = create_project(session, "Rowing")
        for path in TAGS:
            tag = add_tag_path(session, project, path, Origin.MANUAL)
            for index in range(4):
                question = f"What matters most in {tag.label.lower()} number {index}?"
                reasoning, answer = answer_for(question)
                add_record(session, project, tag, question, answer, reasoning=reasoning)
    yield only_project(store)
