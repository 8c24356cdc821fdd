"""Revision 0013 on a database with records from 0010: every record starts unchosen and every
question unrated, so an export of the old records is what it was, a selection and a rating run
on them, and the raw export holds the new fields. On SQLite and PostgreSQL."""

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
    " max_retries, request_timeout, created_at)"
    f" VALUES (1, 'Old', 'Old topic', '', 'en', 8, 3, 120.0, '{NOW}')",
    "INSERT INTO tags (id, project_id, label, label_key, position, depth, origin, created_at)"
    f" VALUES (1, 1, 'Rowing', 'rowing', 0, 1, 'manual', '{NOW}')",
    "INSERT INTO questions (id, project_id, tag_id, text, text_hash, origin, created_at)"
    f" VALUES (1, 1, 1, 'Why row?', 'h1', 'distilled', '{NOW}')",
    "INSERT INTO answers (id, question_id, project_id, variant, answer, confirmed, labels,"
    f" created_at) VALUES (1, 1, 1, 0, 'Because. Final answer: 1', false, '[]', '{NOW}')",
    "INSERT INTO answers (id, question_id, project_id, variant, answer, confirmed, labels,"
    f" created_at) VALUES (2, 1, 1, 1, 'Since. Final answer: 1', false, '[]', '{NOW}')",
]


def test_records_from_before_0013_start_unchosen_and_unrated(
    database: str, settings: Settings, cli: Callable[..., Result], tmp_path: Path
) -> None:
    store_at_revision(settings, "0010_soft_labels", OLD_DATA)
    out = tmp_path / "old.jsonl"

    exported = cli("export", "Old", "-f", "raw", "-o", str(out), "--all-samples")
    voted = cli("dataset", "select", "Old", "--by", "consistency", "--json")
    one = tmp_path / "one.jsonl"
    chosen = cli("export", "Old", "-f", "raw", "-o", str(one))

    assert exported.exit_code == 0, exported.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(row["chosen"], row["difficulty"], row["selected_by"]) for row in rows] == [
        (False, None, None),
        (False, None, None),
    ]
    assert voted.exit_code == 0, voted.output
    assert json.loads(voted.stdout)["mean_agreement"] == 1.0
    assert chosen.exit_code == 0, chosen.output
    (row,) = [json.loads(line) for line in one.read_text(encoding="utf-8").splitlines()]
    assert row["chosen"] is True and row["agreement"] == 1.0 and row["variant"] == 0
