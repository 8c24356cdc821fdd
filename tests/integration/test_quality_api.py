"""The quality methods of the Python `Project`, the same core as the CLI (both databases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distillset import api
from distillset.api import Project
from distillset.config import Settings
from distillset.domain import InvalidInputError, Origin
from distillset.store import Store
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from helpers import add_record, only_project

TRAIN = "A train leaves the station at noon travelling at sixty miles per hour to the city"


def test_quality_from_python(
    database: str, settings: Settings, store: Store, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    api.add_endpoint("embed", model="fake-embed", base_url=fake_server.url, settings=settings)
    with Project.create("Sports", settings=settings) as project:
        with store.session() as session:
            row = only_project(store)
            tag = add_tag_path(session, session.merge(row), "Tennis", Origin.MANUAL)
            for question, answer in (
                ("What is a volley in tennis?", "A shot hit before the ball bounces."),
                ("In tennis, what is a volley?", "As an AI, I cannot answer that."),
                (TRAIN + "?", "At the time the timetable gives."),
            ):
                add_record(session, session.merge(row), tag, question, answer)
        found = project.semantic_duplicates(embeddings="embed", label="same")
        assert [(g["keep"], g["duplicates"]) for g in found["groups"]] == [(1, [2])]
        assert found["labelled"] == 1
        assert project.flags()["by_kind"]["refusal"] == 1
        assert [r["id"] for r in project.flagged_records("refusal")["records"]] == [2]
        bench = tmp_path / "bench.jsonl"
        bench.write_text(json.dumps({"question": TRAIN.upper() + ", then?"}), encoding="utf-8")
        assert [c["question_id"] for c in project.decontaminate([bench])["contaminated"]] == [3]
        html = tmp_path / "report.html"
        report = project.quality_report(semantic=False, html=html)
        assert report["stages"]["records"] == 3 and "<svg" in html.read_text(encoding="utf-8")
        with pytest.raises(InvalidInputError, match="not both"):
            project.decontaminate([bench], label="x", remove=True)
        removed = project.semantic_duplicates(embeddings="embed", delete=True)
        assert removed["questions_deleted"] == 1 and project.info()["questions"] == 2
