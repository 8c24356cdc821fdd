"""Benchmark: the usage report (the Usage page, `distillset usage`) over a large usage log.

Seeds N synthetic calls (3 endpoints, 60 days, 2 % failures, exponential latencies) into a
fresh SQLite database, then times `usage_report` against a baseline measured in the same run:
one bare pass over the project's calls (`count(*)`, `sum(cost)`). The ratio says how many such
passes the report costs (it makes three: by day and endpoint, by latency bin, by task).

    .venv/bin/python bench/usage.py [--calls 300000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from distillset.config import load_settings
from distillset.projects import create_project
from distillset.quality import usage_report
from distillset.store import LlmCall, Store, open_store


def seed(store: Store, project_id: int, calls: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    batch: list[dict[str, object]] = []
    with store.session() as session:
        for i in range(calls):
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
                session.execute(insert(LlmCall), batch)
                batch = []
        if batch:
            session.execute(insert(LlmCall), batch)


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
    args = parser.parse_args()
    settings = load_settings(home=Path(tempfile.mkdtemp(prefix="distillset-usage-")))
    store = open_store(settings)
    with store.session() as session:
        project_id = create_project(session, "Bench").id
    seed(store, project_id, args.calls)

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
    print(f"calls in the usage log: {args.calls:,}")
    print(f"one bare pass (baseline): {baseline * 1000:,.0f} ms")
    print(f"usage report:             {measured * 1000:,.0f} ms")
    print(f"ratio report / bare pass: {measured / baseline:.1f}")
    store.close()


if __name__ == "__main__":
    main()
