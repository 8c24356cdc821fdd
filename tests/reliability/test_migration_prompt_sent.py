"""Revision 0006 on a database with records: they keep exporting the project's system prompt,
since what their teacher saw is not known (issue 11, item 20). On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from reliability_support import store_at_revision
from typer.testing import Result

from distillset.config import Settings

NOW = "2025-01-01 00:00:00"
OLD_DATA = [
    "INSERT INTO projects (id, name, topic, description, language, max_concurrency,"
    " max_retries, request_timeout, answer_system_prompt, created_at)"
    f" VALUES (1, 'Old', 'Old topic', '', 'en', 8, 3, 120.0, 'Be kind.', '{NOW}')",
    "INSERT INTO tags (id, project_id, label, label_key, position, depth, origin, created_at)"
    f" VALUES (1, 1, 'Rowing', 'rowing', 0, 1, 'manual', '{NOW}')",
    "INSERT INTO questions (id, project_id, tag_id, text, text_hash, origin, created_at)"
    f" VALUES (1, 1, 1, 'Why row?', 'h1', 'distilled', '{NOW}')",
    "INSERT INTO answers (id, question_id, project_id, variant, answer, confirmed, labels,"
    f" created_at) VALUES (1, 1, 1, 0, 'Because.', false, '[]', '{NOW}')",
]


def test_records_from_before_0006_export_the_project_system_prompt(
    database: str, settings: Settings, cli: Callable[..., Result], tmp_path: Path
) -> None:
    store_at_revision(settings, "0005_answer_scored_at", OLD_DATA)

    out = tmp_path / "old.jsonl"
    exported = cli("export", "Old", "--format", "messages", "--output", str(out))

    assert exported.exit_code == 0, exported.output
    (line,) = [json.loads(row) for row in out.read_text(encoding="utf-8").splitlines()]
    assert line["messages"][0] == {"role": "system", "content": "Be kind."}
    assert [m["role"] for m in line["messages"]] == ["system", "user", "assistant"]
