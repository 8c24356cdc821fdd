"""The Python facade: the same operations as the CLI, usable from a script or a notebook."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from distillset import InvalidInputError, NotFoundError, Project
from distillset.config import Settings
from distillset.projects import endpoints
from distillset.store import Store
from distillset.testing import FakeModelServer
from helpers import assert_openai_chat_line, read_jsonl


@pytest.fixture
def project(settings: Settings, store: Store, fake_server: FakeModelServer) -> Project:
    with store.session() as session:
        endpoints.add_endpoint(session, "fake", model="fake-model", base_url=fake_server.url)
    created = Project.create("Physical Education and Sports", settings=settings)
    created.use_models(question="fake")
    return created


def test_a_plan_of_batch_answers_costs_the_batch_price(project: Project, store: Store) -> None:
    with store.session() as session:
        fake = endpoints.get_endpoint(session, "fake")
        endpoints.update_endpoint(
            session, fake, price_input_per_m=1.0, price_output_per_m=4.0, batch_discount=0.5
        )
    plain = project.plan(levels=1, tags=2, questions=2).estimated_cost
    batched = project.plan(levels=1, tags=2, questions=2, batch_answers=True).estimated_cost
    assert plain is not None and batched is not None and plain > batched > 0


def test_plan_auto_and_read_back(project: Project) -> None:
    plan = project.plan(levels=1, tags=2, questions=2)
    assert (plan.tags, plan.questions, plan.answers) == (2, 4, 4)

    summary = project.auto(levels=1, tags=2, questions=2)

    assert summary["status"] == "succeeded"
    assert [node["label"] for node in project.tree()] == [
        "Fundamentals of Physical Education and Sports",
        "History and Evolution of Physical Education and Sports",
    ]
    assert len(project.questions()) == 4 and all(q["answered"] for q in project.questions())
    assert project.info()["answers"] == 4
    assert [task["kind"] for task in project.tasks()] == ["auto_distill"]
    project.close()


def test_step_methods_and_a_running_event_loop(project: Project) -> None:
    project.generate_tags(1)
    tag = project.tree()[0]["label"]
    project.generate_questions(tag, 2)

    async def from_a_notebook_cell() -> dict[str, object]:
        # The blocking form works inside a running loop too (as in Jupyter).
        return project.generate_answers(tag=tag)

    summary = asyncio.run(from_a_notebook_cell())
    assert summary["counters"]["answers"] == {"planned": 2, "done": 2, "failed": 0, "skipped": 0}  # type: ignore[index]
    project.close()


def test_opening_an_unknown_project_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="no project named 'Nope'"):
        Project("Nope", settings=settings)


def test_judge_review_and_export_a_distilled_dataset(
    project: Project, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    project.auto(levels=1, tags=2, questions=2)
    calls = fake_server.stats().total

    judged = project.judge()

    assert judged["kind"] == "judge" and judged["status"] == "succeeded"
    assert judged["counters"]["judged"] == {"planned": 4, "done": 4, "failed": 0, "skipped": 0}
    assert fake_server.stats().total == calls + 4
    page = project.records(scored=True, count=True)
    assert page["total"] == 4 and page["next_cursor"] is None
    first, *rest = page["records"]
    assert all(record["score_reason"] for record in page["records"])

    assert project.confirm([first["id"]]) == 1
    assert project.score(5.0, [first["id"]], reason="best") == 1
    (confirmed,) = project.records(confirmed=True)["records"]
    assert (confirmed["id"], confirmed["score"], confirmed["score_reason"]) == (
        first["id"],
        5.0,
        "best",
    )
    assert [r["id"] for r in project.records(confirmed=False, limit=2)["records"]] == [
        r["id"] for r in rest[:2]
    ]

    # The judge's own verdict again, for the one scored by hand: from the cache, no new call.
    rescored = project.judge(rescore=True, confirmed=True)
    assert rescored["counters"]["judged"] == {"planned": 1, "done": 1, "failed": 0, "skipped": 0}
    (again,) = project.records(confirmed=True)["records"]
    assert again["score_reason"] == first["score_reason"]
    assert fake_server.stats().total == calls + 4
    # model= filters by the answers' model, as in records(): no record has this one.
    nothing = project.judge(rescore=True, model="another-model")
    assert nothing["counters"]["judged"]["planned"] == 0

    exported = project.export(tmp_path / "train.jsonl", format="messages", confirmed=True)
    assert exported["records"] == 1 and exported["outputs"]["train"].endswith("train.jsonl")
    (line,) = read_jsonl(tmp_path / "train.jsonl")
    assert_openai_chat_line(line)
    assert line["messages"][-2] == {"role": "user", "content": first["question"]}
    everything = project.export(str(tmp_path / "all.parquet"), format="raw")
    rows = pq.read_table(tmp_path / "all.parquet").to_pylist()
    assert everything["records"] == len(rows) == 4
    assert [row["score"] for row in rows] == [r["score"] for r in project.records()["records"]]
    project.close()


def test_record_selections_are_checked(project: Project) -> None:
    project.auto(levels=1, tags=1, questions=2)
    with pytest.raises(InvalidInputError, match="unknown record filter 'colour'"):
        project.records(colour="red")
    with pytest.raises(InvalidInputError, match="unknown record filter 'scored_before'"):
        project.confirm(scored_before="2026-01-01")  # a rescore task's own condition
    with pytest.raises(InvalidInputError, match="--all"):
        project.confirm()
    with pytest.raises(InvalidInputError, match="not both"):
        project.score(4.0, [1], label="Anything")
    with pytest.raises(InvalidInputError, match="--rescore"):
        project.judge(min_score=3)
    assert project.confirm(everything=True) == 2
    assert project.unconfirm([1]) == 1
    assert project.records(confirmed=True, count=True)["total"] == 1
    project.close()
