"""Benchmark: the usage report (the Usage page, `distillset usage`) over a large usage log.

Seeds N synthetic calls (3 endpoints, 60 days, 2 % failures, exponential latencies) into a
fresh database (SQLite, or DISTILLSET_DATABASE_URL's), then times `usage_report` and the web
Usage page (in-process, TestClient) against a baseline measured in the same run: one bare pass
over the project's calls (`count(*)`, `sum(cost)`). The report reads the usage rollup that
triggers keep, not the calls: its ratio to the bare pass is well under 1. It also prints what
the triggers cost writers: the time to insert calls with them, and without them (dropped at
the end of the run).

    .venv/bin/python bench/usage.py [--calls 300000] [--repeat 3] [--writers 1]

On PostgreSQL, --writers N logs the calls through N connections open at once: the rollup keeps
a part per writing connection, so the report reads N times the rows.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from distillset.config import load_settings
from distillset.projects import create_project
from distillset.quality import usage_report
from distillset.store import LlmCall, Store, UsageRollup, open_store
from distillset.web.app import create_app

WRITE_SAMPLE = 20_000
# As the call log writes on PostgreSQL: many rows per statement (RETURNING makes SQLAlchemy
# batch them), so a statement trigger runs once per batch, not once per row.
_INSERT = insert(LlmCall).returning(LlmCall.id, sort_by_parameter_order=True)


def seed(store: Store, project_id: int, calls: int, first: int = 0, writers: int = 1) -> None:
    """Log `calls` calls, spread over `writers` connections open at once (on PostgreSQL each
    keeps its own part of the rollup's rows)."""
    sessions = [store.sessions() for _ in range(writers)]
    try:
        share = -(-calls // writers)
        for i, session in enumerate(sessions):
            start = first + i * share
            _seed_one(session, project_id, max(0, min(share, first + calls - start)), start)
        # Committed once all have written, so that each held a connection of its own.
        for session in sessions:
            session.commit()
    finally:
        for session in sessions:
            session.close()


def _seed_one(session: Session, project_id: int, calls: int, first: int) -> None:
    rng = random.Random(7 + first)
    now = datetime.now(UTC)
    batch: list[dict[str, object]] = []
    for i in range(first, first + calls):
        batch.append(
            {
                "project_id": project_id,
                "endpoint_alias": rng.choice(("teacher", "student", "judge")),
                "purpose": "answer",
                "request_key": f"{i:064d}",
                "status": "ok" if rng.random() > 0.02 else "error",
                "input_tokens": 100,
                "output_tokens": 300,
                "cost": 0.001,
                "latency_ms": rng.expovariate(1 / 1500),
                "attempts": 1,
                "created_at": now - timedelta(days=rng.randint(0, 59)),
            }
        )
        if len(batch) == 50_000:
            session.execute(_INSERT, batch)
            batch = []
    if batch:
        session.execute(_INSERT, batch)


def best_of(repeat: int, run: Callable[[], None]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--writers", type=int, default=1, help="connections the calls are logged through"
    )
    args = parser.parse_args()
    if args.writers < 1:
        parser.error("--writers must be at least 1")
    settings = load_settings(home=Path(tempfile.mkdtemp(prefix="distillset-usage-")))
    store = open_store(settings)
    if args.writers > 1 and store.engine.dialect.name == "sqlite":
        parser.error("--writers above 1 needs PostgreSQL (DISTILLSET_DATABASE_URL)")
    with store.session() as session:
        project_id = create_project(session, "Bench").id
    started = time.perf_counter()
    seed(store, project_id, args.calls, writers=args.writers)
    seeded = time.perf_counter() - started

    def bare_pass() -> None:
        with store.session() as session:
            session.execute(
                select(func.count(LlmCall.id), func.sum(LlmCall.cost)).where(
                    LlmCall.project_id == project_id
                )
            ).one()

    def report() -> None:
        with store.session() as session:
            usage_report(session, project_id)

    baseline = best_of(args.repeat, bare_pass)
    measured = best_of(args.repeat, report)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:

        def page() -> None:
            response = client.get(f"/projects/{project_id}/usage")
            assert response.status_code == 200, response.text[:500]

        page_time = best_of(args.repeat, page)
    with store.session() as session:
        rows = session.scalar(select(func.count()).select_from(UsageRollup))
    print(f"calls in the usage log: {args.calls:,} (seeded in {seeded:,.1f} s)")
    print(f"usage_rollup rows: {rows:,} ({args.writers} writer(s), {store.engine.dialect.name})")
    print(f"one bare pass (baseline): {baseline * 1000:,.0f} ms")
    print(f"usage report:             {measured * 1000:,.1f} ms")
    print(f"web Usage page:           {page_time * 1000:,.1f} ms")
    print(f"ratio report / bare pass: {measured / baseline:.3f}")
    print(f"ratio page / bare pass:   {page_time / baseline:.3f}")
    print(f"writes, {WRITE_SAMPLE:,} calls in batches of 50,000:")
    with_triggers = best_of(1, lambda: seed(store, project_id, WRITE_SAMPLE, first=args.calls))
    on = "" if store.engine.dialect.name == "sqlite" else " ON llm_calls"
    with store.engine.begin() as connection:
        for name in ("insert", "update", "delete"):
            connection.execute(text(f"DROP TRIGGER usage_rollup_{name}{on}"))
    without = best_of(1, lambda: seed(store, project_id, WRITE_SAMPLE, first=2 * args.calls))
    print(f"  with the rollup's triggers:    {with_triggers * 1000:,.0f} ms")
    print(f"  without (triggers dropped):    {without * 1000:,.0f} ms")
    print(f"  ratio with / without:          {with_triggers / without:.2f}")
    store.close()


if __name__ == "__main__":
    main()
