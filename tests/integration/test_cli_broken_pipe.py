"""A reader that stops early (`distillset ... | head -1`) ends the command quietly."""

from __future__ import annotations

import subprocess
import sys

from distillset.cli.common import EXIT_BROKEN_PIPE
from distillset.domain import Origin, text_hash
from distillset.projects.lifecycle import create_project
from distillset.store import Question, Store
from distillset.tags.tree import add_tag_path


def test_a_closed_pipe_exits_141_without_a_message(store: Store) -> None:
    with store.session() as session:
        project = create_project(session, "big")
        tag = add_tag_path(session, project, "Running", Origin.MANUAL)
        for index in range(2000):  # about 1 MB of output: far more than a pipe holds
            text = f"Question {index}: " + "how far " * 60
            session.add(
                Question(project_id=project.id, tag_id=tag.id, text=text, text_hash=text_hash(text))
            )
    command = [sys.executable, "-m", "distillset", "questions", "list", "big", "--limit", "2000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"id\ttag\tquestion")
    process.stdout.close()  # what `head -1` does after its line
    errors = process.stderr.read().decode()
    assert process.wait() == EXIT_BROKEN_PIPE == 141
    assert errors == ""
