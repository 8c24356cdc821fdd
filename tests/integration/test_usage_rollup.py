"""The usage rollup (migration 0018) on SQLite and PostgreSQL: after inserts, updates and
deletes of calls, a task's deletion (its calls' task_id set NULL) and a project's (its calls
deleted), the rollup tables and the usage report equal a recount straight from llm_calls."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from distillset.projects import create_project, delete_project
from distillset.projects.endpoints import add_endpoint
from distillset.quality import usage_report
from distillset.quality.usage import TASKS_SHOWN, _percentiles
from distillset.store import LlmCall, Project, Store, Task, UsageLatency, UsageRollup
from distillset.store.db import alembic_config
from distillset.store.models import as_utc

DAY = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
TRIGGERS = {"usage_rollup_insert", "usage_rollup_update", "usage_rollup_delete"}


def _bin(latency_ms: float) -> int:
    if latency_ms < 10_000:
        return int(latency_ms / 10)
    return 1000 + int((latency_ms - 10_000) / 1000)


def _recount(session: Session) -> tuple[dict[tuple[Any, ...], tuple[Any, ...]], Counter[Any]]:
    """The rollup's rows as llm_calls says they should be: sums per (project, UTC day,
    endpoint, task or 0), and successful calls per (project, latency bin)."""
    sums: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0] * 9)
    bins: Counter[Any] = Counter()
    for call in session.scalars(select(LlmCall).where(LlmCall.project_id.is_not(None))):
        moment = as_utc(call.created_at)
        assert moment is not None
        key = (call.project_id, moment.date(), call.endpoint_alias, call.task_id or 0)
        row = sums[key]
        for i, value in enumerate(
            (
                1,
                call.status != "ok",
                call.input_tokens or 0,
                call.output_tokens or 0,
                call.cached_input_tokens or 0,
                call.cost or 0,
                call.cost is not None,
                call.latency_ms or 0,
                call.latency_ms is not None,
            )
        ):
            row[i] += value
        if call.status == "ok" and call.latency_ms is not None:
            bins[(call.project_id, _bin(call.latency_ms))] += 1
    return {key: _rounded(row) for key, row in sums.items()}, bins


def _rounded(row: Any) -> tuple[Any, ...]:
    return tuple(round(float(value), 6) for value in row)


def _stored(session: Session) -> tuple[dict[tuple[Any, ...], tuple[Any, ...]], Counter[Any]]:
    """The rollup's rows summed over writers; groups that sum to zero in every column left
    out (their writers' parts cancel)."""
    parts: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0] * 9)
    for r in session.scalars(select(UsageRollup)):
        row = parts[(r.project_id, r.day, r.endpoint_alias, r.task_id)]
        for i, value in enumerate(
            (
                r.calls,
                r.failed,
                r.input_tokens,
                r.output_tokens,
                r.cached_input_tokens,
                r.cost,
                r.priced,
                r.latency_sum,
                r.timed,
            )
        ):
            row[i] += value
    sums = {key: _rounded(row) for key, row in parts.items()}
    bins: Counter[Any] = Counter()
    for r in session.scalars(select(UsageLatency)):
        bins[(r.project_id, r.bin)] += r.calls
    zero = _rounded([0] * 9)
    return (
        {key: row for key, row in sums.items() if row != zero},
        Counter({key: n for key, n in bins.items() if n != 0}),
    )


def _expected_report(session: Session, project_id: int) -> dict[str, Any]:
    """The report's figures counted call by call."""
    calls = session.scalars(select(LlmCall).where(LlmCall.project_id == project_id)).all()

    def figures(group: list[LlmCall]) -> dict[str, Any]:
        priced = [c.cost for c in group if c.cost is not None]
        return {
            "calls": len(group),
            "failed": sum(c.status != "ok" for c in group),
            "input_tokens": sum(c.input_tokens or 0 for c in group),
            "output_tokens": sum(c.output_tokens or 0 for c in group),
            "cost": round(sum(priced), 6) if priced else None,
        }

    def grouped(key: Any) -> dict[Any, list[LlmCall]]:
        found: dict[Any, list[LlmCall]] = defaultdict(list)
        for call in calls:
            found[key(call)].append(call)
        return found

    days = grouped(lambda c: as_utc(c.created_at).date().isoformat())  # type: ignore[union-attr]
    tasks = {t.id: t for t in session.scalars(select(Task))}
    by_task = grouped(lambda c: c.task_id)
    timed = sorted(
        _bin(c.latency_ms) for c in calls if c.status == "ok" and c.latency_ms is not None
    )
    models = []
    for alias, group in grouped(lambda c: c.endpoint_alias).items():
        latencies = [c.latency_ms for c in group if c.latency_ms is not None]
        mean = round(sum(latencies) / len(latencies), 1) if latencies else None
        models.append((alias, {**figures(group), "mean_latency_ms": mean}))
    return {
        "totals": figures(list(calls)),
        "models": {alias: found for alias, found in models},
        "days": [{"day": day, **figures(days[day])} for day in sorted(days)],
        "latency_calls": len(timed),
        "percentiles_ms": _percentiles(sorted(Counter(timed).items()), len(timed)),
        "tasks": [
            {"task_id": task_id, "kind": tasks[task_id].kind, **figures(by_task[task_id])}
            for task_id in sorted((t for t in by_task if t in tasks), reverse=True)[:TASKS_SHOWN]
        ],
    }


def _check(store: Store, *project_ids: int) -> None:
    with store.session() as session:
        recount = _recount(session)
        assert recount[0] and recount[1]  # something to compare
        assert _stored(session) == recount
        for project_id in project_ids:
            report = usage_report(session, project_id)
            expected = _expected_report(session, project_id)
            assert report["totals"] == expected["totals"]
            models = {m.pop("endpoint"): m for m in report["models"]}
            assert {alias: m.pop("model") for alias, m in models.items()} == {
                alias: ("teacher-model" if alias == "teacher" else None) for alias in models
            }
            for found in models.values():
                if found["mean_latency_ms"] is not None:
                    found["mean_latency_ms"] = pytest.approx(found["mean_latency_ms"], abs=0.1)
            assert models == expected["models"]
            assert report["days"] == expected["days"]
            assert report["latency"]["calls"] == expected["latency_calls"]
            assert sum(report["latency"]["counts"]) == expected["latency_calls"]
            assert report["latency"]["percentiles_ms"] == expected["percentiles_ms"]
            tasks = [
                {k: t[k] for k in ("task_id", "kind", *expected["totals"])} for t in report["tasks"]
            ]
            assert tasks == expected["tasks"]


def _call(project_id: int | None, task_id: int | None, n: int, **values: Any) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "task_id": task_id,
        "endpoint_alias": "teacher",
        "purpose": "answer",
        "request_key": f"{n:064d}",
        "status": "ok",
        "input_tokens": 10 + n,
        "output_tokens": 30 + n,
        "cached_input_tokens": n % 3 or None,
        "cost": 0.25 * n,
        "latency_ms": 7.5 * n + 3,
        "attempts": 1,
        "created_at": DAY + timedelta(hours=n),
        **values,
    }


@pytest.fixture
def seeded(database: str, store: Store) -> tuple[int, int, int, int]:
    """Projects A and B, two tasks of A, one of B; calls of every kind."""
    with store.session() as session:
        add_endpoint(session, "teacher", model="teacher-model", base_url="http://127.0.0.1:1/v1")
        a = create_project(session, "A").id
        b = create_project(session, "B").id
        tasks = [
            Task(project_id=p, kind=k) for p, k in ((a, "answers"), (a, "questions"), (b, "x"))
        ]
        session.add_all(tasks)
        session.flush()
        t1, t2, t3 = (t.id for t in tasks)
    rows = [
        _call(a, t1, 1),
        _call(a, t1, 2, status="error", latency_ms=None, cost=None, input_tokens=None),
        _call(a, t2, 3, endpoint_alias="student", latency_ms=25_400.0),
        _call(a, None, 4, cost=None),
        _call(a, t2, 5, latency_ms=0.0, endpoint_alias="removed"),
        _call(b, t3, 6),
        _call(b, None, 7, status="invalid"),
        _call(None, None, 8),  # a probe: no project, not counted
        *(_call(a, t1, 10 + n, latency_ms=1000.0 * n) for n in range(40)),
    ]
    with store.session() as session:
        session.execute(insert(LlmCall), rows)  # one statement, many rows
        session.add(LlmCall(**_call(a, t2, 99, cost=None, latency_ms=None)))  # one row
    return a, b, t1, t2


def test_the_rollup_follows_inserts_updates_and_deletes(
    store: Store, seeded: tuple[int, int, int, int]
) -> None:
    a, b, t1, t2 = seeded
    _check(store, a, b)
    first = LlmCall.request_key == _call(a, t1, 1)["request_key"]
    with store.session() as session:
        # The gateway's update of a call found invalid after it was logged.
        session.execute(update(LlmCall).where(first).values(status="invalid", error="bad"))
    _check(store, a, b)
    with store.session() as session:
        session.execute(
            update(LlmCall)
            .where(LlmCall.task_id == t2)
            .values(cost=None, latency_ms=12.0, created_at=DAY + timedelta(days=3), task_id=t1)
        )
        session.execute(update(LlmCall).where(first).values(response_body="{}"))  # not counted
        session.execute(update(LlmCall).where(LlmCall.project_id.is_(None)).values(project_id=b))
    _check(store, a, b)
    with store.session() as session:
        session.execute(delete(LlmCall).where(first))
        session.execute(delete(LlmCall).where(LlmCall.latency_ms > 30_000))
    _check(store, a, b)


def test_a_deleted_task_or_project_leaves_the_rollup_in_step(
    store: Store, seeded: tuple[int, int, int, int]
) -> None:
    a, b, t1, _ = seeded
    with store.session() as session:
        session.delete(session.get(Task, t1))  # its calls keep counting, under no task
    with store.session() as session:
        assert session.scalar(select(UsageRollup.calls).where(UsageRollup.task_id == t1)) is None
        assert t1 not in {t["task_id"] for t in usage_report(session, a)["tasks"]}
    _check(store, a, b)
    with store.session() as session:
        delete_project(session, session.get(Project, b))
    with store.session() as session:
        left = set(session.scalars(select(UsageRollup.project_id)))
        assert left == {a} and set(session.scalars(select(UsageLatency.project_id))) == {a}
    _check(store, a)


def test_the_migration_fills_the_rollup_from_the_calls_already_logged(
    store: Store, seeded: tuple[int, int, int, int]
) -> None:
    config = alembic_config(store.engine)
    command.downgrade(config, "0016_record_history")
    command.upgrade(config, "head")
    _check(store, *seeded[:2])


@pytest.mark.parametrize("missing", ["insert", "update", "delete"])
def test_a_missing_trigger_is_noticed(
    store: Store, seeded: tuple[int, int, int, int], missing: str
) -> None:
    """The recount catches a rollup that a write went around (here, a dropped trigger)."""
    a, b, t1, _ = seeded
    writes = {
        "insert": insert(LlmCall).values(_call(a, t1, 500)),
        "update": update(LlmCall).where(LlmCall.task_id == t1).values(status="error"),
        "delete": delete(LlmCall).where(LlmCall.task_id == t1),
    }
    with store.session() as session:
        dialect = session.get_bind().dialect.name
        names = {
            "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'",
            "postgresql": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
        }[dialect]
        assert set(session.scalars(text(names))) >= TRIGGERS
        on = " ON llm_calls" if dialect == "postgresql" else ""
        session.execute(text(f"DROP TRIGGER usage_rollup_{missing}{on}"))
        session.execute(writes[missing])
    with pytest.raises(AssertionError):
        _check(store, a, b)


ROUNDS = 6
FAST, SLOW = 100.0, 2000.0  # two latency bins


def _write_rounds(
    store: Store, me: int, project_id: int, task_id: int, barrier: threading.Barrier
) -> None:
    """Writer `me` (0 or 1), on its own connection, in ROUNDS transactions of three statements
    each, the other writer doing the same in step: insert calls of the project in one latency
    bin, then the other (writer 0 fast then slow, writer 1 slow then fast), with an update of
    the calls the other writer inserted a round before; then delete the ones the other writer
    inserted two rounds before (its parts go negative where the other's are positive). Every
    statement adds to the same project's day, endpoint, task and bins. Any lock wait fails at
    once (lock_timeout), so does a deadlock."""
    other = 1 - me
    bins = (FAST, SLOW) if me == 0 else (SLOW, FAST)

    def calls(round_: int, latency: float) -> list[dict[str, Any]]:
        return [
            _call(
                project_id,
                task_id,
                0,
                request_key=f"{me}-{round_}-{latency}-{n}",
                latency_ms=latency + n,
                created_at=DAY,
            )
            for n in range(5)
        ]

    def of(writer: int, round_: int) -> Any:
        return LlmCall.request_key.like(f"{writer}-{round_}-%")

    try:
        with store.engine.connect() as connection:
            for round_ in range(ROUNDS):
                with connection.begin():
                    connection.execute(text("SET LOCAL lock_timeout = '50ms'"))
                    connection.execute(insert(LlmCall), calls(round_, bins[0]))
                    barrier.wait()  # both hold their first statement's rows
                    connection.execute(insert(LlmCall), calls(round_, bins[1]))
                    connection.execute(
                        update(LlmCall)
                        .where(of(other, round_ - 1))
                        .values(status="error", cost=None, latency_ms=LlmCall.latency_ms + 5000)
                    )
                    barrier.wait()
                    connection.execute(delete(LlmCall).where(of(other, round_ - 2)))
    except BaseException:
        barrier.abort()  # the other writer stops too, instead of waiting for this one
        raise


@pytest.mark.usefixtures("postgres_url")
def test_concurrent_writers_never_wait_for_each_other(store: Store) -> None:
    """Two connections writing calls of the same project at once, in transactions that take
    the rollup's bins in opposite orders: neither waits for the other (no lock timeout, no
    deadlock), and the rollup, summed over its writers, equals a recount."""
    with store.session() as session:
        add_endpoint(session, "teacher", model="teacher-model", base_url="http://127.0.0.1:1/v1")
        project = create_project(session, "A")
        task = Task(project_id=project.id, kind="answers")
        session.add(task)
        session.flush()
        project_id, task_id = project.id, task.id
    barrier = threading.Barrier(2, timeout=60)
    with ThreadPoolExecutor(2) as pool:
        writers = [
            pool.submit(_write_rounds, store, me, project_id, task_id, barrier) for me in (0, 1)
        ]
        # A lock timeout or a deadlock in one (the other's barrier then broken).
        assert [writer.exception() for writer in writers] == [None, None]
    _check(store, project_id)
    with store.session() as session:
        # Each writer kept its own part of the same group and bins.
        assert len(set(session.scalars(select(UsageRollup.writer)))) >= 2
        assert len(set(session.scalars(select(UsageLatency.writer)))) >= 2
        session.delete(session.get(Task, task_id))  # every writer's rows of the task go
    with store.session() as session:
        assert (
            session.scalar(select(UsageRollup.calls).where(UsageRollup.task_id == task_id)) is None
        )
    _check(store, project_id)
    with store.session() as session:
        delete_project(session, session.get(Project, project_id))
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageRollup)) == 0
        assert session.scalar(select(func.count()).select_from(UsageLatency)) == 0
