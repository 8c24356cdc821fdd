"""Soft labels leave the store (issue 14, parts 5 and 7): `export --soft-labels` to JSONL,
Parquet and an HF directory (CSV refuses), `dataset tokens` prints the tokens the teacher was
least sure of, and reading records without them never touches the soft labels table. CLI and
real HTTP to the fake server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import event
from typer.testing import Result

from distillset.store import Store
from distillset.testing import FakeModelServer
from helpers import read_jsonl

NAME = "Rowing"
Cli = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def project(database: str, cli: Cli, cli_project_factory: Callable[[str], str]) -> str:
    """Three answers with soft labels (k=4, token ids), then two answered without them."""
    cli_project_factory(NAME)
    ok(cli("tags", "add", NAME, "--path", "Technique"))
    ok(cli("questions", "generate", NAME, "--tag", "Technique", "--count", "3"))
    ok(cli("model", "set", "fake", "--logprobs", "4", "--tokenizer", "fake-org/tokenizer"))
    ok(cli("answers", "generate", NAME))
    ok(cli("model", "set", "fake", "--logprobs", "0"))
    ok(cli("questions", "generate", NAME, "--tag", "Technique", "--count", "5"))  # 2 more
    ok(cli("answers", "generate", NAME))
    return NAME


def _records(cli: Cli) -> list[dict[str, Any]]:
    return list(json.loads(ok(cli("dataset", "list", NAME, "--json")).stdout)["records"])


def _check_row(row: dict[str, Any]) -> None:
    labels = row["soft_labels"]
    assert labels["k"] == 4 and labels["aligned"] is True
    assert labels["tokenizer"] == {
        "name": "fake-org/tokenizer",
        "endpoint_model": "fake-model",
        "model": "fake-model",
        "server_model": "fake-org/fake-model",
        "vocab_size": 250_100,
    }
    count = len(labels["tokens"])
    assert count == len(labels["token_ids"]) == len(labels["logprobs"]) == len(labels["top_ids"])
    assert all(len(top) == 4 for top in labels["top_tokens"])
    assert all(len(top) == 4 for top in labels["top_logprobs"])
    # The sampled token is among its alternatives, and the top K never hold more than all.
    for ids, token_id, logprobs in zip(
        labels["top_ids"], labels["token_ids"], labels["top_logprobs"], strict=True
    ):
        assert token_id in ids and sum(math.exp(lp) for lp in logprobs) <= 1.0 + 1e-3
    # From answer_start the tokens spell the exported answer (alpaca's output).
    answer = "".join(labels["tokens"][labels["answer_start"] :])
    assert answer == row["output"]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_export_soft_labels_gives_each_record_its_tokens_top_k_and_tokenizer(
    cli: Cli, project: str, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"kd{suffix}"

    result = ok(cli("export", NAME, "--reasoning", "drop", "-o", str(path), "--soft-labels"))

    rows = read_jsonl(path) if suffix == ".jsonl" else pq.read_table(path).to_pylist()
    assert len(rows) == 5
    with_labels = [row for row in rows if row["soft_labels"] is not None]
    assert len(with_labels) == 3
    for row in with_labels:
        _check_row(row)
    assert "soft labels: 3 of 5 records" in result.stdout
    assert "2 of 5 records have no soft labels" in result.stderr


def test_an_hf_directory_holds_them_and_a_csv_file_refuses_the_flag(
    cli: Cli, project: str, tmp_path: Path
) -> None:
    pytest.importorskip("datasets")
    from datasets import load_from_disk

    ok(cli("export", NAME, "--reasoning", "drop", "-o", str(tmp_path / "hf"), "--file-format",
           "hf", "--soft-labels"))  # fmt: skip
    refused = cli("export", NAME, "-o", str(tmp_path / "kd.csv"), "--soft-labels")

    rows = [row for row in load_from_disk(str(tmp_path / "hf"))["train"] if row["soft_labels"]]
    assert len(rows) == 3
    for row in rows:
        _check_row(row)
    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        "error: a CSV file cannot hold soft labels (lists of token ids and logprobs per "
        "record): write .jsonl, .json or .parquet, or --file-format hf"
    )
    assert not (tmp_path / "kd.csv").exists()


def test_an_edited_answer_is_exported_as_no_longer_aligned(
    cli: Cli, project: str, tmp_path: Path
) -> None:
    record = _records(cli)[0]
    ok(cli("dataset", "edit", NAME, str(record["id"]), "--answer", "A better answer."))

    ok(cli("export", NAME, "-f", "raw", "-o", str(tmp_path / "kd.jsonl"), "--soft-labels"))

    rows = {row["id"]: row for row in read_jsonl(tmp_path / "kd.jsonl")}
    assert rows[record["id"]]["soft_labels"]["aligned"] is False
    assert rows[record["id"]]["soft_labels"]["tokens"]  # the teacher's tokens stay
    assert all(row["soft_labels"]["aligned"] for row in rows.values() if row["soft_labels"]
               and row["id"] != record["id"])  # fmt: skip
    assert {row["soft_labels"] is None for row in rows.values()} == {True, False}


def test_dataset_tokens_prints_the_least_likely_tokens_with_their_alternatives(
    cli: Cli, project: str
) -> None:
    record = _records(cli)[0]

    table = ok(cli("dataset", "tokens", NAME, str(record["id"]), "--lowest", "3")).stdout
    tokens = json.loads(
        ok(cli("dataset", "tokens", NAME, str(record["id"]), "--lowest", "3", "--json")).stdout
    )

    assert len(tokens) == 3 and [t["position"] for t in tokens] == sorted(
        t["position"] for t in tokens
    )
    lowest = max(t["probability"] for t in tokens)
    assert all(0 < t["probability"] <= 1 and len(t["alternatives"]) == 4 for t in tokens)
    everything = json.loads(
        ok(cli("dataset", "tokens", NAME, str(record["id"]), "--lowest", "1000", "--json")).stdout
    )
    # None of the others is less likely than the three shown.
    assert all(t["probability"] >= lowest for t in everything if t not in tokens)
    assert table.splitlines()[0].split("\t") == [
        "position", "token", "p", "part", "alternatives",
    ]  # fmt: skip
    assert len(table.splitlines()) == 4


def test_dataset_tokens_of_a_record_without_soft_labels_says_why(cli: Cli, project: str) -> None:
    record = _records(cli)[-1]

    refused = cli("dataset", "tokens", NAME, str(record["id"]))

    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        f"error: record {record['id']} has no soft labels (not asked for: the endpoint's "
        "logprobs setting was 0)"
    )


@pytest.fixture
def statements(store: Store) -> Iterator[list[str]]:
    """Every SQL statement the store's engine runs meanwhile."""
    seen: list[str] = []

    def keep(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", keep)
    yield seen
    event.remove(store.engine, "before_cursor_execute", keep)


_SOFT_TABLE = re.compile(r"\b(FROM|JOIN)\s+soft_labels\b", re.IGNORECASE)


def test_listing_and_exporting_without_them_never_reads_the_soft_labels_table(
    project: str, store: Store, statements: list[str], tmp_path: Path
) -> None:
    from distillset.export import ExportOptions, export_dataset
    from distillset.resolve import project_named
    from distillset.review import RecordFilter, list_records

    def run(soft_labels: bool) -> list[str]:
        statements.clear()
        with store.session() as session:
            project_row = project_named(session, NAME)
            list_records(session, project_row, RecordFilter())
            output = tmp_path / f"out-{soft_labels}.jsonl"
            options = ExportOptions(format="raw", output=output, soft_labels=soft_labels)
            export_dataset(session, project_row, options)
        return list(statements)

    without = run(False)
    with_labels = run(True)

    assert not [s for s in without if _SOFT_TABLE.search(s) or "raw_content" in s]
    assert [s for s in with_labels if _SOFT_TABLE.search(s)]  # the check can see a read


def test_the_web_settings_form_sets_soft_labels_on_an_endpoint(
    client: Any, fake_server: FakeModelServer, cli: Cli
) -> None:
    from helpers import make_web_project

    project_id = make_web_project(client, fake_server.url)
    endpoint = f"/projects/{project_id}/endpoints/fake"

    saved = client.post(endpoint, data={"logprobs": "20", "tokenizer": "org/tok"})
    refused = client.post(endpoint, data={"logprobs": "-3"})

    assert saved.status_code == 200 and 'name="logprobs" value="20"' in saved.text
    assert 'value="org/tok"' in saved.text
    assert "logprobs must be between 0 and 100, got -3" in refused.text
    shown = json.loads(ok(cli("model", "show", "fake", "--json")).stdout)
    assert (shown["logprobs"], shown["tokenizer"]) == (20, "org/tok")
