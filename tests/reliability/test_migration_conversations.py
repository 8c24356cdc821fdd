"""Revision 0011 on a database with endpoints and records: the projects keep their models,
the records stay, a DeepSeek endpoint sends reasoning back in the history by its preset and
another does not, and the project's multi-turn setting is the default one. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable

from reliability_support import store_at_revision
from typer.testing import Result

from distillset.config import Settings

NOW = "2025-01-01 00:00:00"
OLD_DATA = [
    "INSERT INTO model_endpoints (id, alias, base_url, model, preset, extra_body,"
    " structured_output, stream, adaptive, logprobs, created_at) VALUES (1, 'teacher',"
    f" 'http://127.0.0.1:9/v1', 'big', 'deepseek', '{{}}', 'none', false, true, 0, '{NOW}')",
    "INSERT INTO model_endpoints (id, alias, base_url, model, extra_body, structured_output,"
    f" stream, adaptive, logprobs, created_at) VALUES (2, 'local', 'http://127.0.0.1:9/v1',"
    f" 'small', '{{}}', 'none', false, true, 0, '{NOW}')",
    "INSERT INTO projects (id, name, topic, description, language, max_concurrency,"
    " max_retries, request_timeout, question_model_id, answer_model_id, created_at)"
    f" VALUES (1, 'Old', 'Old topic', '', 'en', 8, 3, 120.0, 2, 1, '{NOW}')",
    "INSERT INTO tags (id, project_id, label, label_key, position, depth, origin, created_at)"
    f" VALUES (1, 1, 'Rowing', 'rowing', 0, 1, 'manual', '{NOW}')",
    "INSERT INTO questions (id, project_id, tag_id, text, text_hash, origin, created_at)"
    f" VALUES (1, 1, 1, 'Why row?', 'h1', 'distilled', '{NOW}')",
    "INSERT INTO answers (id, question_id, project_id, variant, answer, confirmed, labels,"
    f" created_at) VALUES (1, 1, 1, 0, 'Because.', false, '[]', '{NOW}')",
]


def test_endpoints_projects_and_records_from_before_0011_carry_over(
    database: str, settings: Settings, cli: Callable[..., Result]
) -> None:
    store_at_revision(settings, "0010_soft_labels", OLD_DATA)

    project = json.loads(cli("project", "show", "Old", "--json").stdout)
    teacher = json.loads(cli("model", "show", "teacher", "--json").stdout)
    local = json.loads(cli("model", "show", "local", "--json").stdout)
    records = json.loads(cli("dataset", "list", "Old", "--json").stdout)
    talks = json.loads(cli("conversations", "list", "Old", "--json").stdout)

    assert (project["question_model"], project["answer_model"]) == ("local", "teacher")
    assert project["multi_turn"]["rounds"] == 3 and project["multi_turn"]["scenario"] is None
    assert (teacher["reasoning_in_history"], local["reasoning_in_history"]) == (True, False)
    assert [record["answer"] for record in records["records"]] == ["Because."]
    assert talks == []
    changed = cli("model", "set", "teacher", "--no-reasoning-history", "--json")
    assert json.loads(changed.stdout)["reasoning_in_history"] is False
