"""AI scoring through the real gateway and the fake model server over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from typer.testing import Result

from distillset import resolve
from distillset.config import Settings
from distillset.domain import InvalidInputError, Origin
from distillset.projects.endpoints import add_endpoint
from distillset.projects.lifecycle import create_project, get_project
from distillset.prompts import set_prompt
from distillset.review import judge as judge_module
from distillset.review.editing import count_records, list_records, set_score
from distillset.review.filters import RecordFilter
from distillset.review.judge import create_judge_task, run_judge_task
from distillset.review.verdict import Verdict, parse_verdict
from distillset.runs.runner import ask_fresh
from distillset.store import Answer, LlmCall, Store, Task
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from helpers import add_record, assert_refused_in_one_line

Cli = Callable[..., Result]


@pytest.fixture
def project_name(store: Store, fake_server: FakeModelServer) -> str:
    """Sports with 6 records under Ball games and 4 under Running, and a judge endpoint."""
    with store.session() as session:
        add_endpoint(session, "judge", model="fake-model", base_url=fake_server.url)
        project = create_project(session, "Sports")
        project.max_retries = 0
        for path, count in (("Ball games", 6), ("Running", 4)):
            tag = add_tag_path(session, project, path, Origin.MANUAL)
            for index in range(count):
                add_record(
                    session,
                    project,
                    tag,
                    f"{path} question {index}?",
                    f"Answer about {path} number {index}.",
                    reasoning="Some reasoning.",
                )
    return "Sports"


def create_task(
    store: Store,
    name: str,
    *,
    model: str = "judge",
    rescore: bool = False,
    fresh: bool = False,
    **filters: object,
) -> int:
    with store.session() as session:
        project = get_project(session, name)
        task = create_judge_task(
            session,
            project,
            model=model,
            record_filter=resolve.record_filter(session, project, filters),
            rescore=rescore,
        )
        if fresh:
            ask_fresh(task)
        return task.id


def judge(store: Store, settings: Settings, name: str, **options: object) -> dict[str, object]:
    task_id = create_task(store, name, **options)  # type: ignore[arg-type]
    return asyncio.run(run_judge_task(store, settings, task_id))


def scores(store: Store) -> list[float | None]:
    with store.session() as session:
        return list(session.scalars(select(Answer.score).order_by(Answer.id)))


def test_judge_scores_every_unscored_record_in_half_steps(
    store: Store, settings: Settings, project_name: str, fake_server: FakeModelServer
) -> None:
    summary = judge(store, settings, project_name)
    assert summary["status"] == "succeeded" and summary["kind"] == "judge"
    assert summary["counters"] == {"judged": {"planned": 10, "done": 10, "failed": 0, "skipped": 0}}
    values = scores(store)
    assert all(v is not None and 0 <= v <= 5 and v * 2 == int(v * 2) for v in values)
    assert len(set(values)) > 1  # derived from each prompt, not one constant
    with store.session() as session:
        record = list_records(session, get_project(session, project_name), limit=1).records[0]
        assert record.score_reason and "complete" in record.score_reason
        purposes = set(session.scalars(select(LlmCall.purpose)))
    assert purposes == {"judge"}
    assert fake_server.stats().by_kind == {"score": 10}
    assert "Answer about Ball games number 0." in fake_server.stats().prompts[0]


def test_rerun_scores_only_what_is_left_and_cached_calls_are_free(
    store: Store, settings: Settings, project_name: str, fake_server: FakeModelServer
) -> None:
    first = judge(store, settings, project_name, tag="Running")
    assert first["counters"]["judged"]["done"] == 4  # type: ignore[index]
    second = judge(store, settings, project_name)
    assert second["counters"]["judged"]["planned"] == 6  # type: ignore[index]
    assert fake_server.stats().total == 10
    before = scores(store)
    # Scores lost (say the process died after the calls): the judge asks again, from the cache.
    with store.session() as session:
        set_score(session, get_project(session, project_name), None, record_filter=RecordFilter())
    third = judge(store, settings, project_name)
    assert third["status"] == "succeeded" and fake_server.stats().total == 10
    assert scores(store) == before


def test_failures_are_recorded_and_a_rerun_retries_them(
    store: Store, settings: Settings, project_name: str, fake_server: FakeModelServer
) -> None:
    fake_server.queue_faults("500", "500", "500")
    summary = judge(store, settings, project_name)
    assert summary["status"] == "failed"
    assert summary["counters"]["judged"] == {"planned": 10, "done": 7, "failed": 3, "skipped": 0}  # type: ignore[index]
    assert "500" in str(summary["last_error"])
    with store.session() as session:
        project = get_project(session, project_name)
        assert count_records(session, project, RecordFilter(scored=False)) == 3
        task = session.get(Task, summary["id"])
        assert task is not None and task.status == "failed"
    retry = judge(store, settings, project_name)
    assert retry["status"] == "succeeded"
    assert retry["counters"]["judged"] == {"planned": 3, "done": 3, "failed": 0, "skipped": 0}  # type: ignore[index]
    assert None not in scores(store)


def test_prose_replies_are_parsed_and_an_unreadable_one_is_asked_again(
    store: Store, settings: Settings, project_name: str, fake_server: FakeModelServer
) -> None:
    # The project's own judge prompt, without the JSON wording: the fake answers in prose.
    with store.session() as session:
        set_prompt(
            session,
            get_project(session, project_name),
            "judge",
            "Rate this answer to {question}: {answer}",
        )
    summary = judge(store, settings, project_name, tag="Running")
    # Prose with no score at all is retried (new attempt numbers), then recorded as failed.
    assert summary["status"] == "failed"
    assert summary["counters"]["judged"]["failed"] == 4  # type: ignore[index]
    assert fake_server.stats().total == 4 * 3
    assert "no score" in str(summary["last_error"])
    with store.session() as session:
        errors = session.scalar(select(func.count(LlmCall.id)).where(LlmCall.status == "ok"))
    assert errors == 12


def test_judge_command(cli: Cli, store: Store, project_name: str) -> None:
    result = cli("judge", project_name, "--model", "judge", "--tag", "Ball games", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["counters"]["judged"] == {"planned": 6, "done": 6, "failed": 0, "skipped": 0}
    # The task row holds the tag by id: renaming the tag later changes nothing it covers.
    with store.session() as session:
        ball_games = resolve.tag_id(session, get_project(session, project_name), "Ball games")
    assert summary["params"]["filter"] == {"tag_id": ball_games}
    assert_refused_in_one_line(
        cli,
        [(("judge", project_name, "--model", "judge", "--tag", "Swimming"), "no tag 'Swimming'")],
    )
    listed = json.loads(cli("dataset", "list", project_name, "--scored", "--json").stdout)
    assert len(listed["records"]) == 6
    missing = cli("judge", project_name)
    assert missing.exit_code == 2 and "no judge model" in missing.stderr


def test_tasks_resume_continues_a_judge_task(
    cli: Cli, store: Store, project_name: str, fake_server: FakeModelServer
) -> None:
    with store.session() as session:
        task = create_judge_task(
            session, get_project(session, project_name), model="judge", record_filter=RecordFilter()
        )
        task_id = task.id
    result = cli("tasks", "resume", str(task_id), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["kind"] == "judge" and summary["status"] == "succeeded"
    assert summary["counters"]["judged"]["done"] == 10
    assert fake_server.stats().by_kind == {"score": 10}


def test_a_judge_task_stored_with_a_tag_path_asks_to_be_started_again(
    cli: Cli, store: Store, project_name: str, fake_server: FakeModelServer
) -> None:
    """A task row from before filters named their tag by id holds the tag's path: resuming
    it says what to do, sends nothing and changes no score."""
    task_id = create_task(store, project_name)
    with store.session() as session:
        task = session.get_one(Task, task_id)
        task.params = {"model": "judge", "filter": {"tag": "Running", "confirmed": False}}
        task.status = "interrupted"
    message = (
        f"task {task_id} was created by an older version of distillset (its filter names the "
        "tag 'Running' by path) and cannot be resumed: start the judge again with the same "
        "filters"
    )
    assert_refused_in_one_line(cli, [(("tasks", "resume", str(task_id)), message)])
    assert fake_server.stats().total == 0 and scores(store) == [None] * 10
    # Started again, the same selection runs.
    result = cli("judge", project_name, "--model", "judge", "--tag", "Running", "--unconfirmed")
    assert result.exit_code == 0, result.output
    assert scores(store).count(None) == 6


def test_judge_command_prints_the_judged_stage_for_people(cli: Cli, project_name: str) -> None:
    result = cli("judge", project_name, "--model", "judge", "--tag", "Running")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].strip() == "judged 4/4"
    listed = cli("tasks", "list", project_name)
    assert listed.stdout.splitlines()[1].split("\t")[2:5] == ["judge", "succeeded", "judged 4/4"]


def test_tasks_cancel_ends_a_queued_judge_task_at_once(
    cli: Cli, store: Store, project_name: str
) -> None:
    with store.session() as session:
        task = create_judge_task(
            session, get_project(session, project_name), model="judge", record_filter=RecordFilter()
        )
        task_id = task.id
    result = cli("tasks", "cancel", str(task_id), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "id": task_id,
        "status": "cancelled",
        "cancel_requested": False,
    }
    assert scores(store) == [None] * 10


def reasons(store: Store) -> list[str | None]:
    with store.session() as session:
        return list(session.scalars(select(Answer.score_reason).order_by(Answer.id)))


def calls_of(store: Store, task_id: int) -> int:
    """Requests the task sent and got a reply for (a request cut off by a crash has no row)."""
    with store.session() as session:
        return session.scalar(select(func.count(LlmCall.id)).where(LlmCall.task_id == task_id)) or 0


def score_by_hand(store: Store, name: str, score: float, **filters: object) -> None:
    with store.session() as session:
        project = get_project(session, name)
        set_score(
            session,
            project,
            score,
            reason="by hand",
            record_filter=resolve.record_filter(session, project, filters),
        )


def test_rescore_judges_scored_records_again_with_another_model(
    store: Store, settings: Settings, project_name: str, fake_server: FakeModelServer
) -> None:
    judge(store, settings, project_name)
    with store.session() as session:
        add_endpoint(session, "judge-b", model="other-model", base_url=fake_server.url)
    plain = judge(store, settings, project_name, model="judge-b")
    assert plain["counters"]["judged"]["planned"] == 0  # type: ignore[index]
    score_by_hand(store, project_name, 0.5)

    again = judge(store, settings, project_name, model="judge-b", rescore=True)

    assert again["status"] == "succeeded"
    assert again["counters"]["judged"] == {"planned": 10, "done": 10, "failed": 0, "skipped": 0}  # type: ignore[index]
    assert fake_server.stats().total == 20
    assert "by hand" not in reasons(store) and None not in scores(store)
    with store.session() as session:
        calls = session.scalars(
            select(LlmCall.endpoint_alias).where(LlmCall.task_id == again["id"])
        )
        assert list(calls) == ["judge-b"] * 10


def test_rescore_takes_score_filters_and_a_plain_judge_refuses_them(
    store: Store, settings: Settings, project_name: str, fake_server: FakeModelServer
) -> None:
    score_by_hand(store, project_name, 1.0, tag="Running")
    score_by_hand(store, project_name, 4.0, tag="Ball games")
    with store.session() as session:
        for filters in ({"max_score": 2.0}, {"min_score": 1.0}, {"scored": True}):
            with pytest.raises(InvalidInputError, match="--rescore"):
                create_judge_task(
                    session,
                    get_project(session, project_name),
                    model="judge",
                    record_filter=RecordFilter(**filters),  # type: ignore[arg-type]
                )

    low = judge(store, settings, project_name, rescore=True, max_score=2.0)

    assert low["counters"]["judged"] == {"planned": 4, "done": 4, "failed": 0, "skipped": 0}  # type: ignore[index]
    assert fake_server.stats().total == 4
    # Ball games' 6 records come first: left alone; Running's 4 judged again.
    assert reasons(store)[:6] == ["by hand"] * 6 and scores(store)[:6] == [4.0] * 6
    assert "by hand" not in reasons(store)[6:]


def test_a_resumed_rescore_scores_only_the_records_it_had_not_scored(
    store: Store,
    settings: Settings,
    project_name: str,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    score_by_hand(store, project_name, 0.5)
    # Fresh samples, so a record judged twice would show as a second request to the model.
    task_id = create_task(store, project_name, rescore=True, fresh=True)
    read = 0

    def power_cut_after_four(text: str) -> Verdict:
        nonlocal read
        read += 1
        if read > 4:
            raise RuntimeError("power cut")
        return parse_verdict(text)

    monkeypatch.setattr(judge_module, "parse_verdict", power_cut_after_four)
    with pytest.raises(RuntimeError, match="power cut"):
        asyncio.run(run_judge_task(store, settings, task_id))
    assert reasons(store).count("by hand") == 6
    monkeypatch.undo()
    calls_before = calls_of(store, task_id)

    resumed = asyncio.run(run_judge_task(store, settings, task_id))

    assert resumed["status"] == "succeeded"
    assert resumed["counters"]["judged"] == {"planned": 10, "done": 10, "failed": 0, "skipped": 0}  # type: ignore[index]
    assert calls_of(store, task_id) - calls_before == 6
    assert "by hand" not in reasons(store)
    # Once done, resuming again has nothing left to score.
    assert asyncio.run(run_judge_task(store, settings, task_id))["counters"]["judged"] == {  # type: ignore[index]
        "planned": 10,
        "done": 10,
        "failed": 0,
        "skipped": 0,
    }
    assert calls_of(store, task_id) - calls_before == 6


def test_a_rescore_retries_its_failures_on_resume(
    store: Store, settings: Settings, project_name: str, fake_server: FakeModelServer
) -> None:
    judge(store, settings, project_name)
    fake_server.queue_faults("500", "500", "500")
    task_id = create_task(store, project_name, rescore=True, fresh=True)
    first = asyncio.run(run_judge_task(store, settings, task_id))
    assert first["counters"]["judged"] == {"planned": 10, "done": 7, "failed": 3, "skipped": 0}  # type: ignore[index]

    retry = asyncio.run(run_judge_task(store, settings, task_id))

    assert retry["status"] == "succeeded"
    assert retry["counters"]["judged"] == {"planned": 10, "done": 10, "failed": 0, "skipped": 0}  # type: ignore[index]
    assert fake_server.stats().total == 10 + 10 + 3


def test_judge_command_rescores_by_score(cli: Cli, project_name: str) -> None:
    first = cli("judge", project_name, "--model", "judge", "--json")
    assert first.exit_code == 0, first.output
    result = cli(
        "judge", project_name, "--model", "judge", "--rescore", "--min-score", "0", "--json"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["params"]["rescore"] is True
    assert summary["counters"]["judged"] == {"planned": 10, "done": 10, "failed": 0, "skipped": 0}
    assert_refused_in_one_line(
        cli, [(("judge", project_name, "--model", "judge", "--max-score", "2"), "--rescore")]
    )


def test_records_deleted_before_the_run_are_not_counted_as_judged(
    store: Store, settings: Settings, project_name: str, fake_server: FakeModelServer
) -> None:
    task_id = create_task(store, project_name)
    with store.session() as session:
        for answer in session.scalars(select(Answer).order_by(Answer.id).limit(2)):
            session.delete(answer)

    summary = asyncio.run(run_judge_task(store, settings, task_id))

    assert summary["counters"]["judged"] == {"planned": 8, "done": 8, "failed": 0, "skipped": 0}  # type: ignore[index]
