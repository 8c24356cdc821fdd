"""Benchmark: exporting 1,000,000 records to JSONL and Parquet against the same over 100,000.

Synthetic records are seeded straight into SQLite (executemany), then each export runs in its
own child process, which reports its rows/s and its peak resident memory. Prints, per file
type (to a file, and streamed as a web download), the ratios large/small; target: peak-memory
ratio <= 1.2 (memory does not grow with the number of records). Then times one review page
(50 records) under common filters on both projects: with keyset pagination and indexes the
large/small ratio stays near 1.

    .venv/bin/python bench/export.py [--small 100000 --large 1000000 --format messages]
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from distillset.config import load_settings
from distillset.projects import lifecycle as projects
from distillset.review.editing import count_records, list_records, set_confirmed, set_score
from distillset.review.filters import RecordFilter
from distillset.store import open_store
from distillset.tags.tree import add_tag_path

TOP_TAGS = 10
SUB_TAGS = 10
SEED_BATCH = 20_000


def seed(home: Path, name: str, records: int) -> None:
    """A project with 10 x 10 leaf tags and ``records`` answered questions."""
    settings = load_settings(home=home)
    store = open_store(settings)
    with store.session() as session:
        project = projects.create_project(session, name)
        leaves = [
            add_tag_path(session, project, f"Area {top} > Topic {top}.{sub}").id
            for top in range(TOP_TAGS)
            for sub in range(SUB_TAGS)
        ]
        project_id = project.id
    store.close()
    database = sqlite3.connect(home / "distillset.sqlite3")
    now = datetime.now(UTC).isoformat(sep=" ")
    reasoning = "First recall the definition, then check the units and the edge cases. " * 3
    answer = "The answer, in two short paragraphs.\nIt keeps a newline and a comma, too. " * 3
    first = database.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM questions").fetchone()[0]
    next_id, end = first, first + records
    while next_id < end:
        ids = range(next_id, min(next_id + SEED_BATCH, end))
        database.executemany(
            "INSERT INTO questions (id, project_id, tag_id, text, text_hash, origin, created_at)"
            " VALUES (?, ?, ?, ?, ?, 'distilled', ?)",
            [
                (
                    i,
                    project_id,
                    leaves[i % len(leaves)],
                    f"Question number {i}: why?",
                    f"{i:064x}",
                    now,
                )
                for i in ids
            ],
        )
        database.executemany(
            "INSERT INTO answers (id, question_id, project_id, variant, answer, reasoning, model,"
            " input_tokens, output_tokens, confirmed, labels, created_at)"
            " VALUES (?, ?, ?, 0, ?, ?, 'teacher', 100, 200, 0, '[]', ?)",
            [(i, i, project_id, f"{answer}#{i}", reasoning, now) for i in ids],
        )
        database.commit()
        next_id += SEED_BATCH
    database.close()


def child(home: str, name: str, fmt: str, output: str) -> None:
    """Run one export and print its figures as JSON (peak RSS of this process only).
    An output ``stream.<type>`` reads the export as a web download does (stream_export),
    keeping no byte."""
    from distillset.export import ExportOptions, export_dataset, stream_export

    store = open_store(load_settings(home=Path(home)))
    started = time.perf_counter()
    with store.session() as session:
        project = projects.get_project(session, name)
        if Path(output).stem == "stream":
            options = ExportOptions(format=fmt, file_format=Path(output).suffix[1:])
            for _chunk in stream_export(session, project, options):
                pass
            rows = count_records(session, project, options.record_filter)
        else:
            options = ExportOptions(format=fmt, output=Path(output))
            rows = export_dataset(session, project, options).records
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mib": peak_kib / 1024}))


def measure(home: Path, name: str, fmt: str, output: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(home), name, fmt, str(output)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


REVIEW_FILTERS = {
    "first page": RecordFilter(),
    "confirmed (3 records)": RecordFilter(confirmed=True),
    "scored (3 records)": RecordFilter(scored=True),
    "unscored": RecordFilter(scored=False),
    "leaf tag": RecordFilter(tag="Area 3 > Topic 3.7"),
    "model": RecordFilter(model="teacher"),
}


def review_page_ms(home: Path, name: str, repeats: int = 5) -> dict[str, float]:
    """The best of a few timings of the first review page (newest first) per filter."""
    store = open_store(load_settings(home=home))
    timings: dict[str, float] = {}
    with store.session() as session:
        project = projects.get_project(session, name)
        first = list_records(session, project, limit=1).records[0].id
        last = list_records(session, project, limit=1, newest_first=True).records[0].id
        ids = [first + 5, (first + last) // 2, last - 5]
        set_confirmed(session, project, True, ids=ids)
        set_score(session, project, 4.5, ids=ids)
        for label, record_filter in REVIEW_FILTERS.items():
            best = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                list_records(session, project, record_filter, limit=50, newest_first=True)
                best = min(best, time.perf_counter() - started)
            timings[label] = best * 1000
    store.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--format", default="messages")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="distillset-bench-") as tmp:
        home = Path(tmp)
        for name, count in (("small", args.small), ("large", args.large)):
            started = time.perf_counter()
            seed(home, name, count)
            print(f"seeded {count:,} records in {time.perf_counter() - started:.1f}s", flush=True)
        for suffix in ("jsonl", "parquet", "stream.jsonl", "stream.parquet"):
            figures = {
                name: measure(
                    home,
                    name,
                    args.format,
                    home / (suffix if suffix.startswith("stream") else f"{name}.{suffix}"),
                )
                for name in ("small", "large")
            }
            for name, figure in figures.items():
                print(
                    f"{suffix:14} {name:5} {int(figure['rows']):>9,} rows  "
                    f"{figure['rows'] / figure['seconds']:>9,.0f} rows/s  "
                    f"peak {figure['peak_mib']:.0f} MiB",
                    flush=True,
                )
            small, large = figures["small"], figures["large"]
            speed = (large["rows"] / large["seconds"]) / (small["rows"] / small["seconds"])
            memory = large["peak_mib"] / small["peak_mib"]
            print(
                f"{suffix:14} large/small: peak memory ratio {memory:.2f} (target <= 1.2), "
                f"rows/s ratio {speed:.2f}",
                flush=True,
            )
        small_ms, large_ms = review_page_ms(home, "small"), review_page_ms(home, "large")
        for label in REVIEW_FILTERS:
            print(
                f"review page, {label:22} small {small_ms[label]:7.1f} ms  "
                f"large {large_ms[label]:7.1f} ms  ratio {large_ms[label] / small_ms[label]:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
    else:
        main()
