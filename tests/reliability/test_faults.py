"""Every injected fault, alone and mixed, through a whole auto-distillation task.

With no gateway retries every fault reaches the scheduler: each planned item must be done or
counted failed with the fault's reason, and plain re-runs (new attempts) must finish the same
tree with nothing duplicated and no successful request paid twice.
"""

from __future__ import annotations

import pytest
from reliability_support import Tree, run_auto, set_project, tree_of
from sqlalchemy import select

from distillset.config import Settings
from distillset.store import Question, Store
from distillset.testing import FakeModelServer

# levels 1 x tags 3 x questions 3: 3 tags, 9 questions, 9 answers, 13 calls.
PARAMS = {"levels": 1, "tags": 3, "questions": 3}
PLANNED = {"tags": 3, "questions": 9, "answers": 9}
MAX_RUNS = 12

REASONS = {
    "429": "HTTP 429",
    "500": "HTTP 500",
    "stall": "no response within",
    "malformed": "not valid JSON",
    "truncated": "finish_reason=length",
    "empty": "empty content",
}
RATE_FIELD = {
    "429": "rate_429",
    "500": "rate_500",
    "stall": "rate_stall",
    "malformed": "rate_malformed",
    "truncated": "rate_truncated",
    "empty": "rate_empty",
}


def _configure(fake_server: FakeModelServer, faults: list[str], rate: float) -> None:
    rates = {RATE_FIELD[fault]: rate for fault in faults}
    fake_server.configure(retry_after=0.05, stall_seconds=30.0, seed=11, **rates)
    # The first request (the topic's sub-tags) always fails, so a failure is always seen.
    fake_server.queue_faults(faults[0])


def _check_run(summary: dict[str, object], stored: Tree, faults: list[str]) -> None:
    counters = summary["counters"]
    assert isinstance(counters, dict)
    failed_tags, failed_questions = counters["tags"]["failed"], counters["questions"]["failed"]
    # What a failure upstream left unattempted (not failed: it leaves the plan): the questions
    # of a tag that could not be created, and the answers of questions that were not.
    per_leaf = PARAMS["questions"]
    unattempted = {
        "tags": 0,
        "questions": failed_tags * per_leaf,
        "answers": failed_tags * per_leaf + failed_questions,
    }
    for stage, planned in PLANNED.items():
        values = counters[stage]
        assert values["done"] + values["failed"] == values["planned"], (stage, values)
        # Nothing lost: every planned item exists, is counted failed, or was not attempted
        # because what it hangs on failed.
        found = getattr(stored, stage) + values["failed"] + unattempted[stage]
        assert found == planned, (stage, values, stored)
    failed = sum(counters[stage]["failed"] for stage in PLANNED)
    if failed:
        assert summary["status"] == "failed"
        reason = str(summary["last_error"])
        assert any(REASONS[fault] in reason for fault in faults), reason
    else:
        assert summary["status"] == "succeeded"


@pytest.mark.parametrize(
    "faults", [[fault] for fault in REASONS] + [list(REASONS)], ids=[*REASONS, "mixed"]
)
def test_each_fault_is_recorded_then_a_rerun_completes_the_same_tree(
    store: Store,
    settings: Settings,
    project: str,
    fake_server: FakeModelServer,
    faults: list[str],
) -> None:
    set_project(store, max_retries=0, request_timeout=0.3)
    rate = 0.3 if len(faults) == 1 else 0.06
    _configure(fake_server, faults, rate)

    statuses = []
    for _ in range(MAX_RUNS):
        summary = run_auto(store, settings, **PARAMS)
        tree = tree_of(store)
        _check_run(summary, tree, faults)
        statuses.append(summary["status"])
        assert tree.duplicates == 0 and tree.twice_paid == 0
        if summary["status"] == "succeeded":
            break
    assert statuses[0] == "failed" and statuses[-1] == "succeeded", statuses
    tree = tree_of(store)
    assert (tree.tags, tree.questions, tree.answers) == (3, 9, 9)
    with store.session() as session:
        leftover = list(
            session.scalars(select(Question.last_error).where(Question.last_error.is_not(None)))
        )
    assert leftover == []  # an answered question no longer carries its old failure
    outcomes = fake_server.stats().by_outcome
    assert all(outcomes.get(fault, 0) >= 1 for fault in faults[:1]), outcomes


def test_mixed_faults_with_retries_finish_in_one_run(
    store: Store, settings: Settings, project: str, fake_server: FakeModelServer
) -> None:
    set_project(store, max_retries=4, request_timeout=0.3)
    fake_server.configure(
        retry_after=0.05,
        stall_seconds=30.0,
        seed=5,
        **{field: 0.03 for field in RATE_FIELD.values()},
    )
    fake_server.queue_faults("429", "500")

    summary = run_auto(store, settings, levels=2, tags=3, questions=2)

    assert summary["status"] == "succeeded", summary["last_error"]
    tree = tree_of(store)
    assert (tree.tags, tree.questions, tree.answers) == (12, 18, 18)
    assert tree.duplicates == 0 and tree.twice_paid == 0
    stats = fake_server.stats()
    assert stats.by_outcome["429"] >= 1 and stats.by_outcome["500"] >= 1
