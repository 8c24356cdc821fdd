"""Semantic grouping, diversity figures and benchmark files, without a database or a model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillset.domain import InvalidInputError
from distillset.quality import semantic
from distillset.quality.decontaminate import BenchmarkIndex, BenchmarkQuestion, read_benchmark
from distillset.quality.diversity import diversity, mean_similarity, vendi_score
from distillset.quality.embedders import unit_rows
from distillset.quality.figures import approx_tokens, histogram, percentile


def vectors(*rows: list[float]) -> np.ndarray:
    return unit_rows(np.array(rows, dtype=np.float32))


SAMPLE = vectors([1, 0, 0], [0, 1, 0], [1, 0.05, 0], [0.05, 1, 0], [0, 0, 1], [1, 0.1, 0.02])


@pytest.mark.parametrize("block", [1, 5, 7, 1 << 25])
def test_groups_are_the_same_whatever_the_block_size(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(semantic, "BLOCK_ELEMENTS", block)
    groups = semantic.group_rows(SAMPLE, 0.99)
    assert [[row for row, _ in group] for group in groups] == [[0, 2, 5], [1, 3]]
    assert groups[0][1][1] == pytest.approx(float(SAMPLE[0] @ SAMPLE[2]))


def test_a_row_joins_the_group_it_is_most_like_not_the_oldest() -> None:
    rows = vectors([1, 0.5], [1, -0.5], [1, -0.1])  # 2 is like 0 (0.85), more like 1 (0.93)
    groups = semantic.group_rows(rows, 0.8)
    assert [[row for row, _ in group] for group in groups] == [[1, 2]]


@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.01, 7.0])
def test_a_threshold_out_of_range_is_refused(threshold: float) -> None:
    with pytest.raises(InvalidInputError, match="threshold"):
        semantic.checked_threshold(threshold)


def test_diversity_figures_match_their_definitions() -> None:
    rng = np.random.default_rng(3)
    rows = unit_rows(rng.standard_normal((40, 8)))
    kernel = rows.astype(np.float64) @ rows.T
    pairs = kernel[~np.eye(40, dtype=bool)]
    assert mean_similarity(rows) == pytest.approx(pairs.mean(), abs=1e-6)
    eigen = np.linalg.eigvalsh(kernel / 40)
    eigen = eigen[eigen > 1e-12]
    assert vendi_score(rows) == pytest.approx(np.exp(-(eigen * np.log(eigen)).sum()), rel=1e-6)
    # All alike: one effective question; all orthogonal: as many as there are.
    assert vendi_score(vectors([1, 0], [1, 0], [1, 0])) == pytest.approx(1.0)
    assert vendi_score(vectors([1, 0, 0], [0, 1, 0], [0, 0, 1])) == pytest.approx(3.0)


def test_the_most_alike_tags_come_first() -> None:
    rows = vectors([1, 0], [1, 0.05], [1, 0], [0, 1], [0.5, 0.5])
    figures = diversity(rows, ["A", "A", "B", "B", "C"])
    assert [tag["tag_path"] for tag in figures.alike_tags] == ["A", "B"]
    assert figures.as_dict()["questions"] == 5


def test_small_figures() -> None:
    assert approx_tokens("What is a volley?") == 7  # 5 words and marks, times 1.3
    assert approx_tokens("什么是截击") == 5
    assert approx_tokens(None) == 0
    assert histogram([0, 5, 10, 25], bins=5) == {
        "edges": [0, 5, 10, 15, 20, 25],
        "counts": [1, 1, 1, 0, 1],
    }
    assert percentile([1, 2, 3, 4], 0.5) == 2 and percentile([], 0.5) is None


QUESTION = "A train leaves the station at noon travelling at sixty miles per hour towards the city"


def test_benchmark_files_of_each_format_are_read(tmp_path: Path) -> None:
    jsonl = tmp_path / "bench.jsonl"
    jsonl.write_text(json.dumps({"problem": QUESTION}) + "\n\n" + json.dumps("Plain text?\n"))
    csv_file = tmp_path / "bench.csv"
    csv_file.write_text(f'id,question\n1,"{QUESTION}"\n2,\n', encoding="utf-8")
    parquet = tmp_path / "bench.parquet"
    pq.write_table(pa.table({"prompt": [QUESTION, "Other"]}), parquet)
    assert [q.text for q in read_benchmark(jsonl)] == [QUESTION, "Plain text?\n"]
    assert [q.source for q in read_benchmark(csv_file)] == ["bench.csv:2"]
    assert len(read_benchmark(parquet)) == 2
    assert read_benchmark(parquet, "prompt")[1].text == "Other"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", "", "holds no benchmark questions"),
        ("blank.csv", "question\n\n", "holds no benchmark questions"),
        ("bench.txt", "What?", "unknown format '.txt'"),
        ("broken.jsonl", '{"question": ', "cannot be read as jsonl"),
        ("other.jsonl", '{"answer": "x"}', "no question field among answer"),
        ("object.json", '{"question": "x"}', "must hold a list"),
    ],
)
def test_bad_benchmark_files_are_refused_clearly(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=message):
        read_benchmark(path)


def test_a_missing_or_broken_file_and_a_missing_field_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such file"):
        read_benchmark(tmp_path / "absent.jsonl")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(InvalidInputError, match="not a readable Parquet file"):
        read_benchmark(broken)
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"question": "x"}))
    with pytest.raises(InvalidInputError, match="no field 'prompt'"):
        read_benchmark(good, "prompt")


@pytest.mark.parametrize("size", [7, 14, 0])
def test_an_ngram_size_out_of_range_is_refused(size: int) -> None:
    with pytest.raises(InvalidInputError, match="between 8 and 13"):
        BenchmarkIndex([], size)


def test_ngram_overlap_flags_copies_not_neighbours() -> None:
    index = BenchmarkIndex(
        [BenchmarkQuestion("b.jsonl:1", QUESTION), BenchmarkQuestion("b.jsonl:2", "Short one?")],
        8,
    )
    copied = f"Consider this: {QUESTION.upper()}. How long does the trip take?"
    hit = index.match(copied)
    assert hit is not None and hit[0].source == "b.jsonl:1" and len(hit[1].split()) == 8
    assert index.match("short ONE") is not None  # shorter than n: matches only as a whole
    assert index.match("A short one, really?") is None
    assert index.match("A train leaves the station at noon, then rests.") is None


def test_the_default_threshold_is_the_one_every_interface_names() -> None:
    import inspect

    from distillset.cli.dataset_quality import dataset_duplicates
    from distillset.quality.semantic import DEFAULT_THRESHOLD
    from distillset.web.api.quality import Threshold

    named = f"{DEFAULT_THRESHOLD:g} by default"
    assert named in str(Threshold.description)
    option = inspect.signature(dataset_duplicates).parameters["threshold"].default
    assert named in str(option.help)
