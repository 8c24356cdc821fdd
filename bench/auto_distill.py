"""Benchmark: automatic distillation against the fake model server in its own process.

levels 2 x tags 10 x questions 10 = 1 + 10 tag calls, 100 question calls and 1000 answers
(1111 calls) at concurrency 32, every call taking the server 100 ms. Prints the task's own
wall time (started_at to finished_at) over the lower bound
max(critical path, calls x latency / concurrency). Target: <= 1.10. For context it also
prints what a zero-overhead schedule of the same dependency graph would take (the ramp and
the last partial wave are in it, not in the bound) and a bare aiohttp loop's ratio.

    .venv/bin/python bench/auto_distill.py [--levels 2 --tags 10 --questions 10 ...]

The multi-turn case (target <= 1.15): each question becomes a conversation of --rounds rounds,
2 x rounds - 1 calls in a chain (teacher and simulated user in turn), so the critical path is
the tree's calls plus one chain:

    .venv/bin/python bench/auto_distill.py --levels 2 --tags 5 --questions 4 \
        --dataset-type multi --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distillset.auto import jobs
from distillset.config import load_settings
from distillset.kinds import run_task
from distillset.projects import endpoints, update_multi_turn_setting
from distillset.projects import lifecycle as projects
from distillset.store import LlmCall, open_store


def start_fake_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "distillset.testing.fake_server", "--port", "0"]
    command += ["--latency", str(latency)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    match = re.search(r"(http://\S+/v1)", line)
    if not match:
        server.kill()
        raise SystemExit(f"the fake server did not start: {line!r}")
    return server, match.group(1)


async def bare_loop(url: str, calls: int, concurrency: int) -> float:
    """The same number of requests from a bare aiohttp loop with a semaphore: no limiter,
    no database, no dependencies. Printed beside the result to show this machine's noise."""
    import aiohttp

    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(number: int) -> None:
            body = {"model": "m", "messages": [{"role": "user", "content": f"Question {number}?"}]}
            async with gate, session.post(f"{url}/chat/completions", json=body) as reply:
                await reply.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(number) for number in range(calls)))
        return time.perf_counter() - started


def zero_overhead_schedule(
    levels: int,
    tags: int,
    questions: int,
    concurrency: int,
    latency: float,
    *,
    answers: bool = True,
    turns: int = 0,
) -> float:
    """Wall time of this job's dependency graph with nothing but the model's latency: a
    call starts the moment a slot is free and its parent call has answered. The lower
    bound ignores the ramp (1 call, then `tags`, ...) and the last, partly filled wave of
    calls, which no scheduler can avoid when every call takes the same time. ``turns``:
    each question's conversation, a chain of that many calls (answers and turns rank as the
    scheduler ranks them: the longest chain left first)."""
    # Ready calls by priority (expansions, then questions, then answers and turns, the
    # longest chain left first) and arrival: (kind, rank, seq, depth or turns left).
    ready: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)]
    running: list[tuple[float, int, int]] = []  # (finish time, kind, depth or turns left)
    now, seq = 0.0, 1
    while ready or running:
        while ready and len(running) < concurrency:
            kind, _, _, depth = heapq.heappop(ready)
            heapq.heappush(running, (now + latency, kind, depth))
        now, kind, depth = heapq.heappop(running)
        if kind == 0 and (depth + 1 < levels or questions):
            # An expansion: its children are expanded in turn or get their questions.
            child_kind = 0 if depth + 1 < levels else 1
            for _ in range(tags):
                heapq.heappush(ready, (child_kind, -depth - 1, seq, depth + 1))
                seq += 1
        elif kind == 1:
            for _ in range(questions):
                if answers:
                    heapq.heappush(ready, (2, -1, seq, 1))
                    seq += 1
                if turns:
                    heapq.heappush(ready, (2, -turns, seq, turns))
                    seq += 1
        elif kind == 2 and depth > 1:  # a turn: the next one of its conversation is ready
            heapq.heappush(ready, (2, -(depth - 1), seq, depth - 1))
            seq += 1
    return now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=2)
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--dataset-type", default="single", choices=("single", "multi", "both"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    chain = 2 * args.rounds - 1 if args.dataset_type != "single" else 0

    server, url = start_fake_server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as home:
            settings = load_settings(home=Path(home))
            store = open_store(settings)
            with store.session() as session:
                project = projects.create_project(session, "Benchmark topic")
                endpoints.add_endpoint(session, "fake", model="fake-model", base_url=url)
                projects.update_project(
                    session,
                    project,
                    question_model="fake",
                    answer_model="fake",
                    max_concurrency=args.concurrency,
                )
                update_multi_turn_setting(session, project, rounds=args.rounds)
                job = jobs.create_auto_job(
                    session,
                    settings,
                    project.id,
                    levels=args.levels,
                    tags=args.tags,
                    questions=args.questions,
                    dataset_type=args.dataset_type,
                    confirm_large=True,
                )
            cpu = time.process_time()
            summary = asyncio.run(run_task(store, settings, job.task_id))
            cpu = time.process_time() - cpu
            with store.session() as session:
                calls = session.query(LlmCall).filter(LlmCall.status == "ok").count()
            store.close()
        bare = asyncio.run(bare_loop(url, calls, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)

    wall = summary["elapsed_seconds"]
    # One call per level of tags, one for the questions, then an answer or a conversation.
    critical_path = (args.levels + 1 + max(1, chain)) * args.latency
    throughput_bound = calls * args.latency / args.concurrency
    bound = max(critical_path, throughput_bound)
    counters = summary["counters"]
    print(f"status: {summary['status']}, calls: {calls} (planned {sum(job.plan.calls.values())})")
    for stage in ("tags", "questions", "answers", "turns"):
        print(f"  {stage}: {counters[stage]}")
    print(f"wall time (task started..finished): {wall:.3f} s")
    print(f"lower bound max({critical_path:.3f}, {throughput_bound:.3f}) = {bound:.3f} s")
    print(f"CPU time of this process during the run: {cpu:.3f} s")
    print(
        f"same run, bare aiohttp loop of {calls} calls (no dependencies, no database): "
        f"{bare:.3f} s = {bare / throughput_bound:.3f} x calls*latency/concurrency"
    )
    ideal = zero_overhead_schedule(
        args.levels,
        args.tags,
        args.questions,
        args.concurrency,
        args.latency,
        answers=args.dataset_type != "multi",
        turns=chain,
    )
    # The bare loop's own zero-overhead time: full waves of `concurrency` calls.
    bare_ideal = -(-calls // args.concurrency) * args.latency
    print(
        f"context: a zero-overhead schedule of this dependency graph takes {ideal:.3f} s = "
        f"{ideal / bound:.3f} x bound (ramp, last partial wave); this run took "
        f"{wall / ideal:.3f} x that, the bare loop {bare / bare_ideal:.3f} x its own "
        f"({bare_ideal:.3f} s)"
    )
    target = 1.10 if args.dataset_type == "single" else 1.15
    print(f"ratio: {wall / bound:.3f}  (target <= {target:.2f})")


if __name__ == "__main__":
    main()
