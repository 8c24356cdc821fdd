"""`distillset dataset ...` and `distillset export ...` through the real command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from distillset.store import Store
from helpers import assert_openai_chat_line, assert_refused_in_one_line, seed_export_dataset

Cli = Callable[..., Result]


@pytest.fixture
def seeded(store: Store) -> None:
    seed_export_dataset(store, per_tag=3)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def test_list_pages_and_filters(cli: Cli, seeded: None) -> None:
    first = json.loads(ok(cli("dataset", "list", "Sports", "--limit", "4", "--json")).stdout)
    assert len(first["records"]) == 4 and first["next_cursor"] == first["records"][-1]["id"]
    rest = json.loads(
        ok(cli("dataset", "list", "Sports", "--cursor", str(first["next_cursor"]), "--json")).stdout
    )
    assert len(rest["records"]) == 5 and rest["next_cursor"] is None
    running = json.loads(
        ok(cli("dataset", "list", "Sports", "--tag", "Running", "--count", "--json")).stdout
    )
    assert running["total"] == 3
    assert {r["tag_path"] for r in running["records"]} == {"Running"}
    plain = ok(cli("dataset", "list", "Sports", "--no-reasoning")).stdout
    assert "question 0" in plain and "question 1" not in plain


def test_note_and_label_report_json_for_scripts(cli: Cli, seeded: None) -> None:
    noted = json.loads(ok(cli("dataset", "note", "Sports", "2", "check units", "--json")).stdout)
    assert noted == {"record": 2, "note": "check units"}
    cleared = json.loads(ok(cli("dataset", "note", "Sports", "2", "", "--json")).stdout)
    assert cleared == {"record": 2, "note": None}
    labelled = json.loads(
        ok(cli("dataset", "label", "Sports", "1", "2", "--add", "hard", "--json")).stdout
    )
    assert labelled == {"records": 2}
    shown = json.loads(ok(cli("dataset", "show", "Sports", "2", "--json")).stdout)
    assert shown["note"] is None and shown["labels"] == ["hard"]


def test_review_round(cli: Cli, seeded: None) -> None:
    ok(cli("dataset", "confirm", "Sports", "1", "2", "3"))
    ok(cli("dataset", "unconfirm", "Sports", "2"))
    ok(cli("dataset", "score", "Sports", "1", "--score", "4.5", "--reason", "clear"))
    ok(cli("dataset", "note", "Sports", "1", "units?"))
    ok(cli("dataset", "label", "Sports", "1", "--add", "hard"))
    ok(cli("dataset", "edit", "Sports", "1", "--clear-reasoning", "--answer", "New answer."))
    shown = json.loads(ok(cli("dataset", "show", "Sports", "1", "--json")).stdout)
    assert shown["confirmed"] is True and shown["score"] == 4.5
    assert shown["score_reason"] == "clear" and shown["note"] == "units?"
    assert shown["labels"] == ["hard"] and shown["reasoning"] is None
    assert shown["answer"] == "New answer."
    listed = json.loads(ok(cli("dataset", "list", "Sports", "--confirmed", "--json")).stdout)
    assert [r["id"] for r in listed["records"]] == [1, 3]
    deleted = json.loads(
        ok(cli("dataset", "delete", "Sports", "--tag", "Running", "--yes", "--json")).stdout
    )
    assert deleted == {"records": 3, "questions_unanswered": 3}


def test_user_mistakes_are_one_line_errors(cli: Cli, seeded: None, tmp_path: Path) -> None:
    cases = [
        (("dataset", "score", "Sports", "1", "--score", "4.2"), "steps of 0.5"),
        (("dataset", "confirm", "Sports"), "--all"),
        (("dataset", "show", "Sports", "999"), "no record 999"),
        (("dataset", "list", "Nope"), "no project"),
        (("export", "Sports", "-f", "messages", "--reasoning", "field", "-o", "x.jsonl"), "hold"),
        (("export", "Sports", "-o", str(tmp_path / "no" / "x.json")), "not a directory"),
    ]
    assert_refused_in_one_line(cli, cases)


def test_export_command_writes_openai_lines_and_a_split(
    cli: Cli, seeded: None, tmp_path: Path
) -> None:
    out = tmp_path / "train.jsonl"
    result = json.loads(
        ok(
            cli(
                "export",
                "Sports",
                "--format",
                "messages",
                "--output",
                str(out),
                "--split",
                "eval=0.34",
                "--json",
            )
        ).stdout
    )
    assert result["records"] == 9 and result["splits"] == {"train": 6, "eval": 3}
    for path in (out, tmp_path / "train.eval.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert_openai_chat_line(json.loads(line))
    custom = tmp_path / "c.json"
    ok(
        cli(
            "export",
            "Sports",
            "-f",
            "custom",
            "-o",
            str(custom),
            "--reasoning",
            "inline",
            "--think-open",
            "<r>\\n",
            "--think-close",
            "\\n</r>\\n",
            "--field",
            "question=q",
            "--field",
            "answer=a",
        )
    )
    rows = json.loads(custom.read_text(encoding="utf-8"))
    assert rows[1]["a"].startswith("<r>\nReasoning 1") and "\n</r>\nAnswer 1" in rows[1]["a"]
    lf = tmp_path / "lf"
    lf.mkdir()
    ok(cli("export", "Sports", "-f", "sharegpt", "--llamafactory", str(lf), "--confirmed"))
    info = json.loads((lf / "dataset_info.json").read_text())
    assert info["sports"]["formatting"] == "sharegpt"
    assert json.loads((lf / "sports.json").read_text()) == []


def test_an_empty_export_warns_but_writes_a_valid_file(
    cli: Cli, seeded: None, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.json"
    plain = ok(cli("export", "Sports", "--confirmed", "-o", str(empty)))
    assert "warning: no record matched the filters" in plain.stderr
    assert "0 records" in plain.stdout
    assert json.loads(empty.read_text(encoding="utf-8")) == []

    as_json = ok(cli("export", "Sports", "--confirmed", "-o", str(empty), "--json"))
    assert json.loads(as_json.stdout)["warnings"] == [
        "no record matched the filters: the export holds an empty dataset"
    ]
    assert "warning: no record matched" in as_json.stderr

    full = ok(cli("export", "Sports", "-o", str(tmp_path / "all.jsonl"), "--json"))
    assert json.loads(full.stdout)["warnings"] == [] and full.stderr == ""


def test_edit_help_says_only_the_reasoning_can_be_removed(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    shown = " ".join(ok(cli("dataset", "edit", "--help")).stdout.split())
    assert "Only the reasoning can be removed" in shown
    assert "To drop a record, delete it (`distillset dataset delete NAME ID`)" in shown


def test_emptying_the_answer_or_question_is_refused_with_the_way_out(
    cli: Cli, seeded: None
) -> None:
    before = json.loads(ok(cli("dataset", "show", "Sports", "2", "--json")).stdout)
    delete_hint = "delete it (distillset dataset delete 'Sports' 2)"
    cases = [
        (("dataset", "edit", "Sports", "2", "--answer", " "), delete_hint),
        (("dataset", "edit", "Sports", "2", "--question", ""), delete_hint),
        # Refused as a whole: the valid new answer given with it is not stored either.
        (("dataset", "edit", "Sports", "2", "--answer", "New.", "--question", ""), "question"),
    ]
    assert_refused_in_one_line(cli, cases)
    after = json.loads(ok(cli("dataset", "show", "Sports", "2", "--json")).stdout)
    assert after == before
