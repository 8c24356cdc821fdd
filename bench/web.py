"""Benchmark: the web pages over a project of 100,000 tags and 1,000,000 questions.

Seeds the project straight into SQLite (executemany in one transaction; the database's
triggers keep each tag's counts as the rows go in, about 1.5 times the time of the bare
inserts), then times, in the same app and the same run, the distill page, one lazy
expansion (a node with 999 children), questions and dataset pages (plain, filtered, and text
searches: the full-text index for three characters or more, a LIKE scan below), the tree's
search, jump, menu and live counts (the distill page and each tree fragment carry
whole-subtree counts), each as a ratio to the trivial /api/v1/health endpoint; then the same
searches as a plain LIKE scan, for the index's speed-up.
Server time is the median of repeated in-process requests (FastAPI TestClient). Target: each
page under 300 ms. The subtree counts of all 100 top-level tags read the kept counts (about
12 ms; counting the questions and answers below them took about 0.7 s).

    .venv/bin/python bench/web.py [--tags 100000 --questions 1000000 --answers 200000]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

from fastapi.testclient import TestClient

from distillset.config import load_settings
from distillset.domain import normalize_text, text_hash
from distillset.review import text_search
from distillset.web import create_app

CREATED = "2026-01-01 00:00:00.000000"
TOP_LEVEL = 100
BATCH = 50_000


def _batches(rows: Iterator[tuple[object, ...]]) -> Iterator[list[tuple[object, ...]]]:
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(db: Path, tags: int, questions: int, answers: int) -> int:
    """100 top-level tags, the rest spread evenly below them; questions on the leaves."""
    connection = sqlite3.connect(db)
    cursor = connection.cursor()
    cursor.execute(
        "INSERT INTO projects (name, topic, description, language, max_concurrency, "
        "max_retries, request_timeout, created_at) VALUES (?, ?, '', 'en', 8, 3, 120, ?)",
        ("Bench", "Bench", CREATED),
    )
    project_id = int(cursor.lastrowid or 0)
    tag_sql = (
        "INSERT INTO tags (id, project_id, parent_id, label, label_key, position, depth, origin, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'generated', ?)"
    )
    top_rows = [
        (i + 1, project_id, None, f"Area {i}", normalize_text(f"Area {i}"), i, 1, CREATED)
        for i in range(TOP_LEVEL)
    ]
    cursor.executemany(tag_sql, top_rows)
    leaves = tags - TOP_LEVEL

    def leaf_rows() -> Iterator[tuple[object, ...]]:
        for index in range(leaves):
            parent = index % TOP_LEVEL + 1
            label = f"Topic {index}"
            yield (
                TOP_LEVEL + 1 + index,
                project_id,
                parent,
                label,
                normalize_text(label),
                index // TOP_LEVEL,
                2,
                CREATED,
            )

    for batch in _batches(leaf_rows()):
        cursor.executemany(tag_sql, batch)

    def question_rows() -> Iterator[tuple[object, ...]]:
        for index in range(questions):
            text = f"Question {index} about topic {index % leaves}?"
            yield (
                index + 1,
                project_id,
                TOP_LEVEL + 1 + index % leaves,
                text,
                text_hash(text),
                CREATED,
            )

    for batch in _batches(question_rows()):
        cursor.executemany(
            "INSERT INTO questions (id, project_id, tag_id, text, text_hash, origin, model, "
            "created_at) VALUES (?, ?, ?, ?, ?, 'distilled', 'bench', ?)",
            batch,
        )

    def answer_rows() -> Iterator[tuple[object, ...]]:
        step = max(1, questions // answers)
        for index in range(0, questions, step)[:answers]:
            yield (
                index + 1,
                project_id,
                f"Answer to question {index}.",
                f"Reasoning for question {index}.",
                CREATED,
            )

    for batch in _batches(answer_rows()):
        cursor.executemany(
            "INSERT INTO answers (question_id, project_id, variant, answer, reasoning, model, "
            "confirmed, labels, created_at) VALUES (?, ?, 0, ?, ?, 'bench', 0, '[]', ?)",
            batch,
        )
    connection.commit()
    cursor.execute("ANALYZE")
    connection.close()
    return project_id


def _sizes(args: argparse.Namespace) -> tuple[int, int, int]:
    return args.tags, args.questions, args.answers


def median_ms(client: TestClient, url: str, repeat: int) -> float:
    client.get(url).raise_for_status()  # warm-up: caches, compiled statements, templates
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tags", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=1_000_000)
    parser.add_argument("--answers", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--home",
        type=Path,
        help="keep the seeded data here; a home seeded by an earlier run is reused as it is",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="distillset-bench-web-") as scratch:
        home = args.home or Path(scratch)
        reuse = (home / "distillset.sqlite3").exists()
        settings = load_settings(home=home)
        app = create_app(settings)  # creates and migrates the database
        started = time.perf_counter()
        project = 1 if reuse else seed(home / "distillset.sqlite3", *_sizes(args))
        print(
            f"{'reused' if reuse else 'seeded'} {args.tags:,} tags, {args.questions:,} questions, "
            f"{args.answers:,} answers in {time.perf_counter() - started:.1f} s"
        )
        pages = {
            "distill page": f"/projects/{project}/distill",
            "lazy expansion (999 children)": f"/projects/{project}/distill/children?parent_id=1",
            "tag panel (a top-level tag)": f"/projects/{project}/distill/tags/1",
            "questions page": f"/projects/{project}/questions",
            "questions page, unanswered": f"/projects/{project}/questions?answered=no",
            "questions page, tag subtree": f"/projects/{project}/questions?tag=Area+7",
            "questions page, search, no match": f"/projects/{project}/questions?q=zzzz",
            "questions page, search, rare": f"/projects/{project}/questions?q=Question+123456+",
            "questions page, search, common": f"/projects/{project}/questions?q=topic+12",
            "questions page, 2-char search (LIKE)": f"/projects/{project}/questions?q=zz",
            "dataset page": f"/projects/{project}/dataset",
            "dataset page, search, no match": f"/projects/{project}/dataset?q=zzzz",
            "dataset page, search, rare": f"/projects/{project}/dataset?q=question+123450.",
            "dataset page, search, common": f"/projects/{project}/dataset?q=reasoning+for",
            "dataset page, 2-char search (LIKE)": f"/projects/{project}/dataset?q=zz",
            "tree API, one level": f"/api/v1/projects/{project}/tags?parent_id=2",
            "tree search, label prefix": f"/projects/{project}/distill/search?q=topic+9999",
            "tree search, inside labels": f"/projects/{project}/distill/search?q=pic+4242",
            "tree search, path": f"/projects/{project}/distill/search?q=area+7+%3E+topic+99",
            "tree search, no match": f"/projects/{project}/distill/search?q=zzzz",
            "jump to a tag (tree opened to it)": f"/projects/{project}/distill/tags/95000/reveal",
            "tag menu": f"/projects/{project}/distill/tags/1/menu",
            "subtree counts, 100 top-level tags (all)": f"/projects/{project}/distill/"
            "subtree-counts?" + "&".join(f"ids={i}" for i in range(1, TOP_LEVEL + 1)),
            "subtree counts, one top-level tag": f"/projects/{project}/distill/"
            "subtree-counts?ids=1",
            "question management page (filtered)": f"/projects/{project}/questions?tag=Area+7",
            "dataset page, label filter": f"/projects/{project}/dataset?label=gold",
            "duplicates page (one tag)": f"/projects/{project}/dataset/duplicates"
            "?tag=Area+7+%3E+Topic+7",
            "dataset import page": f"/projects/{project}/dataset/import",
            "export page": f"/projects/{project}/export",
            "live counts (200 nodes, panel)": f"/projects/{project}/distill/counts?"
            + "&".join(f"ids={i}" for i in range(1, 201))
            + "&tag_id=1&counts_only=true",
        }
        with TestClient(app, base_url="http://127.0.0.1") as client:
            baseline = median_ms(client, "/api/v1/health", args.repeat)
            timings: dict[str, float] = {}
            print(f"{'trivial endpoint (/api/v1/health)':46s} {baseline:8.2f} ms   ratio 1.0")
            for name, url in pages.items():
                took = median_ms(client, url, args.repeat)
                verdict = "ok" if took < 300 else "OVER 300 ms"
                print(f"{name:46s} {took:8.2f} ms   ratio {took / baseline:7.1f}   {verdict}")
                timings[name] = took
            # The same searches as a plain LIKE scan (the store without its full-text index).
            with mock.patch.object(text_search, "has_text_index", lambda _session: False):
                for name, url in pages.items():
                    if "search, " not in name:
                        continue
                    scan = median_ms(client, url, args.repeat)
                    print(
                        f"{name + ', LIKE scan':46s} {scan:8.2f} ms   ratio {scan / baseline:7.1f}"
                        f"   scan / index {scan / timings[name]:6.1f}"
                    )


if __name__ == "__main__":
    main()
