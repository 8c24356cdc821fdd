"""Refining records with advice, their history and restore: CLI, Python API and REST,
through the real gateway and the fake model server over HTTP, on both databases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from typer.testing import Result

from distillset import resolve
from distillset.answers import create_refine_task
from distillset.answers import refine as refine_module
from distillset.api import Project
from distillset.config import Settings
from distillset.domain import Origin
from distillset.kinds import run_task
from distillset.projects.endpoints import add_endpoint
from distillset.projects.lifecycle import create_project, get_project
from distillset.store import Answer, LlmCall, RecordVersion, SoftLabel, Store
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from helpers import add_record, assert_refused_in_one_line

Cli = Callable[..., Result]
ADVICE = "cite the rule book section"


@pytest.fixture
def project_name(database: str, store: Store, fake_server: FakeModelServer) -> str:
    """Sports with 3 records under Ball games and 4 under Running; its answer model is the
    fake server. Record 1 is confirmed and scored, and has soft labels."""
    with store.session() as session:
        endpoint = add_endpoint(session, "teacher", model="fake-model", base_url=fake_server.url)
        project = create_project(session, "Sports")
        project.answer_model = endpoint
        project.max_retries = 0
        for path, count in (("Ball games", 3), ("Running", 4)):
            tag = add_tag_path(session, project, path, Origin.MANUAL)
            for index in range(count):
                add_record(
                    session,
                    project,
                    tag,
                    f"How is {path} number {index} played?",
                    f"Answer about {path} number {index}.",
                    reasoning=f"Old reasoning {index}.",
                    model="closed-model",
                    prompt=f"How is {path} number {index} played?",
                )
        session.flush()
        first = session.scalars(select(Answer).order_by(Answer.id)).first()
        assert first is not None
        first.confirmed, first.score, first.soft_label_status = True, 4.5, "captured"
        session.add(
            SoftLabel(answer_id=first.id, tokens=1, k=1, has_ids=False, tokenizer={}, data=b"x")
        )
    return "Sports"


def answers(store: Store) -> dict[int, Answer]:
    with store.session() as session:
        rows = session.scalars(select(Answer).order_by(Answer.id)).all()
        session.expunge_all()
        return {row.id: row for row in rows}


def versions_of(store: Store, record_id: int) -> list[RecordVersion]:
    with store.session() as session:
        rows = session.scalars(
            select(RecordVersion)
            .where(RecordVersion.answer_id == record_id)
            .order_by(RecordVersion.version)
        ).all()
        session.expunge_all()
        return list(rows)


def test_refine_one_record_keeps_the_old_text_and_restore_brings_it_back(
    cli: Cli, store: Store, project_name: str, fake_server: FakeModelServer
) -> None:
    first_id = min(answers(store))
    before = answers(store)[first_id]

    result = cli(
        "dataset", "refine", project_name, "--id", str(first_id), "--advice", ADVICE, "--json"
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "succeeded"
    assert summary["counters"]["refined"] == {"planned": 1, "done": 1, "failed": 0, "skipped": 0}
    assert fake_server.stats().by_kind == {"refine": 1}
    prompt = fake_server.stats().prompts[0]
    # The model saw the question, the old answer and reasoning, and the advice.
    for text in (before.answer, before.reasoning, ADVICE, "How is Ball games number 0 played?"):
        assert text in prompt
    after = answers(store)[first_id]
    assert ADVICE in after.answer and after.answer != before.answer
    assert after.reasoning is not None and ADVICE in after.reasoning
    assert after.model == "fake-model"
    # Starts unreviewed; keeps the instruction it answers; its old soft labels are gone.
    assert (after.confirmed, after.score, after.soft_label_status) == (False, None, None)
    assert after.prompt == before.prompt
    with store.session() as session:
        assert session.get(SoftLabel, first_id) is None
    # Only the record asked for changed.
    others = {i: a.answer for i, a in answers(store).items() if i != first_id}
    assert all(text.startswith("Answer about") for text in others.values())

    history = cli("dataset", "history", project_name, "--id", str(first_id), "--json")
    assert history.exit_code == 0, history.output
    [version] = json.loads(history.stdout)
    assert version["version"] == 1
    assert (version["answer"], version["reasoning"]) == (before.answer, before.reasoning)
    assert version["model"] == "closed-model"
    assert version["change"] == f"refined: {ADVICE}"
    assert version["task_id"] == summary["id"]

    restored = cli(
        "dataset", "restore", project_name, "--id", str(first_id), "--version", "1", "--json"
    )
    assert restored.exit_code == 0, restored.output
    record = json.loads(restored.stdout)
    assert (record["answer"], record["reasoning"]) == (before.answer, before.reasoning)
    assert record["model"] == "closed-model"
    # The refined text is not lost: it is version 2 now, and can be restored in turn.
    versions = versions_of(store, first_id)
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].answer == after.answer and versions[1].change == "restored version 1"
    again = cli("dataset", "restore", project_name, "--id", str(first_id), "--version", "2")
    assert again.exit_code == 0, again.output
    assert answers(store)[first_id].answer == after.answer


def test_refine_on_a_filter_refines_every_record_of_it_once(
    cli: Cli, store: Store, project_name: str, fake_server: FakeModelServer
) -> None:
    result = cli(
        "dataset", "refine", project_name, "--tag", "Running", "--advice", ADVICE, "--json"
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["counters"]["refined"] == {"planned": 4, "done": 4, "failed": 0, "skipped": 0}
    assert fake_server.stats().by_kind == {"refine": 4}
    refined = [a for a in answers(store).values() if ADVICE in a.answer]
    assert len(refined) == 4
    assert all("Running" in v.answer for a in refined for v in versions_of(store, a.id))
    # Each refined answer is its own rewrite (of its own question), not one shared text.
    assert len({a.answer for a in refined}) == 4

    # Resuming a finished task refines nothing again.
    resumed = cli("tasks", "resume", str(summary["id"]), "--json")
    assert resumed.exit_code == 0, resumed.output
    assert fake_server.stats().by_kind == {"refine": 4}


def test_a_stopped_refine_resumes_without_refining_a_record_twice(
    store: Store,
    settings: Settings,
    project_name: str,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with store.session() as session:
        project = get_project(session, project_name)
        flt = resolve.record_filter(session, project, {"tag": "Running"})
        task_id = create_refine_task(
            session, project, advice=ADVICE, record_filter=flt, no_cache=True
        ).id
    stored = 0
    original = refine_module.RefineRun._store_refined

    def power_cut_after_two(self: refine_module.RefineRun, *args: object) -> str | None:
        nonlocal stored
        stored += 1
        if stored > 2:
            raise RuntimeError("power cut")
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(refine_module.RefineRun, "_store_refined", power_cut_after_two)
    with pytest.raises(RuntimeError, match="power cut"):
        asyncio.run(run_task(store, settings, task_id))
    monkeypatch.undo()
    assert sum(ADVICE in a.answer for a in answers(store).values()) == 2

    resumed = asyncio.run(run_task(store, settings, task_id))

    assert resumed["status"] == "succeeded"
    assert resumed["counters"]["refined"] == {"planned": 4, "done": 4, "failed": 0, "skipped": 0}
    refined = [a for a in answers(store).values() if ADVICE in a.answer]
    assert len(refined) == 4
    # One version per record: none was refined twice (a refine of a refined text would
    # have kept the first rewrite as a second version).
    assert all(len(versions_of(store, a.id)) == 1 for a in refined)


def test_failed_refines_keep_the_text_and_a_rerun_retries_them(
    store: Store, settings: Settings, project_name: str, fake_server: FakeModelServer
) -> None:
    fake_server.queue_faults("500", "500")
    with store.session() as session:
        project = get_project(session, project_name)
        flt = resolve.record_filter(session, project, {"tag": "Running"})
        task_id = create_refine_task(session, project, advice=ADVICE, record_filter=flt).id

    first = asyncio.run(run_task(store, settings, task_id))

    assert first["status"] == "failed"
    assert first["counters"]["refined"] == {"planned": 4, "done": 2, "failed": 2, "skipped": 0}
    kept = [a for a in answers(store).values() if a.answer.startswith("Answer about Running")]
    assert len(kept) == 2 and all(not versions_of(store, a.id) for a in kept)
    retry = asyncio.run(run_task(store, settings, task_id))
    assert retry["status"] == "succeeded"
    assert retry["counters"]["refined"]["done"] == 4  # type: ignore[index]
    with store.session() as session:
        calls = session.scalar(
            select(func.count()).select_from(LlmCall).where(LlmCall.task_id == task_id)
        )
    assert calls == 6  # 4 + the 2 retried


def test_refine_prompts_follow_the_project_language(
    store: Store, settings: Settings, project_name: str, fake_server: FakeModelServer
) -> None:
    with store.session() as session:
        project = get_project(session, project_name)
        project.language = "zh"
    first_id = min(answers(store))
    api = Project(project_name, settings=settings)

    summary = api.refine("请引用规则手册的章节", ids=[first_id])

    assert summary["status"] == "succeeded"
    prompt = fake_server.stats().prompts[0]
    assert "审阅意见：" in prompt and "请引用规则手册的章节" in prompt
    assert "请引用规则手册的章节" in answers(store)[first_id].answer
    [version] = api.history(first_id)
    assert version["answer"] == "Answer about Ball games number 0."
    assert api.restore(first_id, 1)["answer"] == "Answer about Ball games number 0."


def test_an_edit_keeps_the_replaced_text_in_the_history(
    cli: Cli, store: Store, project_name: str
) -> None:
    first_id = min(answers(store))
    result = cli("dataset", "edit", project_name, str(first_id), "--answer", "By hand.")
    assert result.exit_code == 0, result.output
    [version] = versions_of(store, first_id)
    assert (version.answer, version.change) == ("Answer about Ball games number 0.", "edited")
    # An edit of the question alone changes no answer text: nothing to keep.
    cli("dataset", "edit", project_name, str(first_id), "--question", "New question?")
    assert len(versions_of(store, first_id)) == 1


def test_refine_mistakes_are_refused_in_one_line(
    cli: Cli, store: Store, project_name: str, fake_server: FakeModelServer
) -> None:
    first_id = str(min(answers(store)))
    refine = ("dataset", "refine", project_name)
    assert_refused_in_one_line(
        cli,
        [
            ((*refine, "--id", first_id, "--advice", "  "), "the advice is empty"),
            ((*refine, "--advice", ADVICE), "name records by id, select them with filters"),
            ((*refine, "--id", "999999", "--advice", ADVICE), "no record 999999"),
            ((*refine, "--id", first_id, "--tag", "Running", "--advice", ADVICE), "not both"),
            ((*refine, "--search", "nothing like it", "--advice", ADVICE), "nothing to refine"),
            ((*refine, "--id", first_id, "--advice", ADVICE, "--model", "nope"), "nope"),
            (("dataset", "history", project_name, "--id", "999999"), "no record 999999"),
            (
                ("dataset", "restore", project_name, "--id", first_id, "--version", "3"),
                f"record {first_id} has no version 3",
            ),
        ],
    )
    assert fake_server.stats().total == 0


def test_refine_history_and_restore_over_rest(
    client: object, store: Store, project_name: str, fake_server: FakeModelServer
) -> None:
    from fastapi.testclient import TestClient

    assert isinstance(client, TestClient)
    with store.session() as session:
        project_id = get_project(session, project_name).id
    first_id = min(answers(store))
    base = f"/api/v1/projects/{project_id}/records"

    one = client.post(f"{base}/{first_id}/refine", json={"advice": ADVICE})

    assert one.status_code == 200, one.text
    assert one.json()["task"]["status"] == "succeeded"
    assert ADVICE in one.json()["record"]["answer"]
    history = client.get(f"{base}/{first_id}/history")
    assert history.status_code == 200
    assert [v["change"] for v in history.json()] == [f"refined: {ADVICE}"]
    restored = client.post(f"{base}/{first_id}/restore", json={"version": 1})
    assert restored.status_code == 200
    assert restored.json()["answer"] == "Answer about Ball games number 0."
    assert client.post(f"{base}/{first_id}/restore", json={"version": 9}).status_code == 404
    assert client.post(f"{base}/999999/refine", json={"advice": ADVICE}).status_code == 404
    assert client.post(f"{base}/{first_id}/refine", json={"advice": ""}).status_code == 422

    many = client.post(f"{base}/refine", json={"advice": ADVICE, "confirmed": False})
    assert many.status_code == 202, many.text
    task_id = many.json()["id"]
    for _ in range(200):
        task = client.get(f"/api/v1/tasks/{task_id}").json()
        if task["status"] in {"succeeded", "failed"}:
            break
        asyncio.run(asyncio.sleep(0.05))
    assert task["status"] == "succeeded", task
    assert task["counters"]["refined"]["done"] == 7
    assert client.post(f"{base}/refine", json={"advice": ADVICE}).status_code == 422
