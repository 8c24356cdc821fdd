"""Revision 0007 on a database with endpoints and records: the projects keep their models (no
table copy fired ON DELETE SET NULL), endpoints start with soft labels off, and old records
say none were asked for and export null soft labels. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from reliability_support import store_at_revision
from typer.testing import Result

from distillset.config import Settings

NOW = "2025-01-01 00:00:00"
OLD_DATA = [
    "INSERT INTO model_endpoints (id, alias, base_url, model, extra_body, structured_output,"
    f" stream, created_at) VALUES (1, 'teacher', 'http://127.0.0.1:9/v1', 'big', '{{}}',"
    f" 'none', false, '{NOW}')",
    "INSERT INTO projects (id, name, topic, description, language, max_concurrency,"
    " max_retries, request_timeout, question_model_id, answer_model_id, created_at)"
    f" VALUES (1, 'Old', 'Old topic', '', 'en', 8, 3, 120.0, 1, 1, '{NOW}')",
    "INSERT INTO tags (id, project_id, label, label_key, position, depth, origin, created_at)"
    f" VALUES (1, 1, 'Rowing', 'rowing', 0, 1, 'manual', '{NOW}')",
    "INSERT INTO questions (id, project_id, tag_id, text, text_hash, origin, created_at)"
    f" VALUES (1, 1, 1, 'Why row?', 'h1', 'distilled', '{NOW}')",
    "INSERT INTO answers (id, question_id, project_id, variant, answer, confirmed, labels,"
    f" created_at) VALUES (1, 1, 1, 0, 'Because.', false, '[]', '{NOW}')",
]


def test_endpoints_projects_and_records_from_before_0007_carry_over(
    database: str, settings: Settings, cli: Callable[..., Result], tmp_path: Path
) -> None:
    store_at_revision(settings, "0006_answer_prompt_sent", OLD_DATA)

    project = json.loads(cli("project", "show", "Old", "--json").stdout)
    endpoint = json.loads(cli("model", "show", "teacher", "--json").stdout)
    out = tmp_path / "old.jsonl"
    exported = cli("export", "Old", "-f", "raw", "-o", str(out), "--soft-labels")

    assert (project["question_model"], project["answer_model"]) == ("teacher", "teacher")
    assert (endpoint["logprobs"], endpoint["tokenizer"]) == (0, None)
    assert exported.exit_code == 0, exported.output
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["answer"] == "Because." and row["soft_label_status"] is None
    assert row["soft_labels"] is None
