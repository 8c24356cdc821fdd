"""Benchmark: adaptive concurrency against a server that queues beyond its slots.

The fake model server runs in its own process like a llama.cpp server with 2 slots: the
requests beyond them wait in its queue. The same automatic distillation (levels 1 x tags 4 x
questions 10: 45 calls) runs with the endpoint's concurrency learned under a project limit
of 32, and with fixed concurrencies 1 to 4 and 32, each in a fresh data directory. Prints
each run's wall time and failed calls (timeouts), and the adaptive run's throughput over the
best fixed run's. Targets: no timeouts; ratio >= 0.90.

    .venv/bin/python bench/adaptive.py [--slots 2 --latency 0.2 --timeout 2]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from distillset.auto import create_auto_job
from distillset.config import load_settings
from distillset.kinds import run_task
from distillset.projects import add_endpoint, create_project, update_project
from distillset.store import open_store


def start_fake_server(slots: int, latency: float) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "distillset.testing.fake_server", "--port", "0"]
    command += ["--latency", str(latency), "--set", f"slots={slots}"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    match = re.search(r"(http://\S+/v1)", line)
    if not match:
        server.kill()
        raise SystemExit(f"the fake server did not start: {line!r}")
    return server, match.group(1)


def one_run(url: str, concurrency: int, adaptive: bool, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home=Path(home))
        store = open_store(settings)
        with store.session() as session:
            project = create_project(session, "Benchmark topic")
            add_endpoint(session, "fake", model="fake-model", base_url=url, adaptive=adaptive)
            update_project(
                session,
                project,
                question_model="fake",
                answer_model="fake",
                max_concurrency=concurrency,
                request_timeout=timeout,
                max_retries=0,
            )
            job = create_auto_job(session, settings, project.id, levels=1, tags=4, questions=10)
        started = time.perf_counter()
        summary = asyncio.run(run_task(store, settings, job.task_id))
        elapsed = time.perf_counter() - started
        store.engine.dispose()
    calls = summary["counters"]["calls"]
    return {"seconds": elapsed, "failed": calls["failed"], "learned": calls.get("concurrency")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--ceiling", type=int, default=32)
    args = parser.parse_args()

    server, url = start_fake_server(args.slots, args.latency)
    try:
        adaptive = one_run(url, args.ceiling, True, args.timeout)
        print(
            f"adaptive (max {args.ceiling}): {adaptive['seconds']:.2f} s, "
            f"{adaptive['failed']} failed calls, learned concurrency {adaptive['learned']}"
        )
        fixed: dict[int, dict[str, Any]] = {}
        for concurrency in sorted({1, 2, 3, 4, args.ceiling}):
            fixed[concurrency] = result = one_run(url, concurrency, False, args.timeout)
            print(
                f"fixed {concurrency:>3}: {result['seconds']:.2f} s, "
                f"{result['failed']} failed calls"
            )
    finally:
        server.terminate()
        server.wait()
    clean = {c: r for c, r in fixed.items() if r["failed"] == 0}
    best = min(clean, key=lambda c: clean[c]["seconds"]) if clean else None
    if best is None:
        print("no fixed setting ran without failures")
        return
    ratio = clean[best]["seconds"] / adaptive["seconds"]
    print(
        f"throughput of adaptive over the best fixed setting ({best}): {ratio:.2f} "
        f"(target >= 0.90); adaptive timeouts: {adaptive['failed']} (target 0)"
    )


if __name__ == "__main__":
    main()
