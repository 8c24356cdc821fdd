"""Benchmark: automatic distillation against the fake model server in its own process.

levels 2 x tags 10 x questions 10 = 1 + 10 tag calls, 100 question calls and 1000 answers
(1111 calls) at concurrency 32, every call taking the server 100 ms. Prints the task's own
wall time (started_at to finished_at) over the dependency graph's lower bound. Target: <= 1.10.

The bound is a true lower bound for any schedule of the graph: a call at depth k (k calls
above it in its chain: tag levels, then the question call, then the answer or the turns of a
conversation one after another) cannot be sent before k x latency, and at most `concurrency`
calls are in flight at once, each for at least the latency. Taking the calls in flight as
`concurrency` slots, each slot runs the calls of depth >= k one after another between
k x latency and the end, so

    wall >= max over k of (k + ceil(calls at depth >= k / concurrency)) x latency

k = 0 is the whole work over the slots, the deepest k is the critical path. The coarser
max(critical path, calls x latency / concurrency) is printed beside it, and the same bound
without the ceil (fractional waves). The endpoint learns its concurrency (adaptive, the
default): starting at 2 it doubles about once a latency while replies stay fast, so the
first waves run below the concurrency the bound assumes; --fixed shows the run without
that ramp. For context it also prints what a zero-overhead greedy
schedule of the same graph takes and a bare aiohttp loop's ratio.

    .venv/bin/python bench/auto_distill.py [--levels 2 --tags 10 --questions 10 ...]

The multi-turn case (target <= 1.15): each question becomes a conversation of --rounds rounds,
2 x rounds - 1 calls in a chain (teacher and simulated user in turn), at depths levels + 1 to
levels + 2 x rounds - 1:

    .venv/bin/python bench/auto_distill.py --levels 2 --tags 5 --questions 4 \
        --dataset-type multi --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import math
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from distillset.auto import jobs
from distillset.config import Settings, load_settings
from distillset.kinds import run_task
from distillset.projects import endpoints, update_multi_turn_setting
from distillset.projects import lifecycle as projects
from distillset.store import LlmCall, Store, open_store


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


def calls_by_depth(
    levels: int, tags: int, questions: int, *, answers: bool = True, turns: int = 0
) -> list[int]:
    """How many calls the job's graph has at each depth (the calls before it in its chain):
    one expansion per tag above the leaves, one question call per leaf, then per question
    an answer (depth levels + 1) and a conversation's chain of ``turns`` calls."""
    counts = [tags**depth for depth in range(levels)]  # expansions
    leaves = tags**levels
    counts.append(leaves)  # question calls
    if questions:
        per_depth = [0] * max(int(answers), turns)
        if answers and per_depth:
            per_depth[0] += leaves * questions
        for turn in range(turns):
            per_depth[turn] += leaves * questions
        counts.extend(per_depth)
    return counts


def level_bound(
    counts: list[int], concurrency: int, latency: float, *, whole: bool = True
) -> float:
    """max over k of (k + waves of the calls at depth >= k) x latency: those calls start no
    sooner than k x latency and share ``concurrency`` slots. ``whole``: a slot runs a whole
    number of calls, each taking the latency (the ceil); else the fractional work / slots."""
    best = 0.0
    for depth in range(len(counts)):
        deeper = sum(counts[depth:])
        waves = math.ceil(deeper / concurrency) if whole else deeper / concurrency
        best = max(best, (depth + waves) * latency)
    return best


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
    call starts the moment a slot is free and its parent call has answered (an achievable
    schedule, so at or above the lower bound; equal to it, it shows the bound is tight).
    ``turns``:
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


def run_job(
    store: Store, settings: Settings, topic: str, args: argparse.Namespace
) -> tuple[dict[str, Any], jobs.PlannedJob, int]:
    """One automatic distillation in a new project on the endpoint "fake": its task's
    summary, the job, and the calls it made."""
    with store.session() as session:
        project = projects.create_project(session, topic)
        projects.update_project(
            session,
            project,
            question_model="fake",
            answer_model="fake",
            max_concurrency=args.concurrency,
        )
        update_multi_turn_setting(session, project, rounds=args.rounds)
        project_id = project.id
        job = jobs.create_auto_job(
            session,
            settings,
            project_id,
            levels=args.levels,
            tags=args.tags,
            questions=args.questions,
            dataset_type=args.dataset_type,
            confirm_large=True,
        )
    summary = asyncio.run(run_task(store, settings, job.task_id))
    with store.session() as session:
        calls = (
            session.query(LlmCall)
            .filter(LlmCall.status == "ok", LlmCall.project_id == project_id)
            .count()
        )
    return summary, job, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=2)
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--dataset-type", default="single", choices=("single", "multi", "both"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--fixed",
        action="store_true",
        help="the endpoint uses the concurrency as it is (by default it learns it: it starts at "
        "2 and grows while replies stay fast, which the graph's bound does not count)",
    )
    args = parser.parse_args()
    chain = 2 * args.rounds - 1 if args.dataset_type != "single" else 0

    server, url = start_fake_server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as home:
            settings = load_settings(home=Path(home))
            store = open_store(settings)
            with store.session() as session:
                endpoints.add_endpoint(
                    session, "fake", model="fake-model", base_url=url, adaptive=not args.fixed
                )
            # The same job twice, in two projects: the first on the fresh endpoint, the
            # second on the endpoint as the first left it (its learned concurrency).
            first, _, _ = run_job(store, settings, "Benchmark topic", args)
            with store.session() as session:
                learned = endpoints.get_endpoint(session, "fake").learned_concurrency
            summary, job, calls = run_job(store, settings, "Second benchmark topic", args)
            store.close()
        bare = asyncio.run(bare_loop(url, calls, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)

    wall = summary["elapsed_seconds"]
    counts = calls_by_depth(
        args.levels,
        args.tags,
        args.questions,
        answers=args.dataset_type != "multi",
        turns=chain,
    )
    if sum(counts) != calls:
        print(f"warning: the graph has {sum(counts)} calls, the run made {calls}")
    critical_path = len(counts) * args.latency
    throughput_bound = calls * args.latency / args.concurrency
    coarse = max(critical_path, throughput_bound)
    fractional = level_bound(counts, args.concurrency, args.latency, whole=False)
    bound = level_bound(counts, args.concurrency, args.latency)
    counters = summary["counters"]
    print(f"status: {summary['status']}, calls: {calls} (planned {sum(job.plan.calls.values())})")
    for stage in ("tags", "questions", "answers", "turns"):
        print(f"  {stage}: {counters[stage]}")
    print(f"wall time (task started..finished): {wall:.3f} s")
    if not args.fixed:
        first_wall = first["elapsed_seconds"]
        print(
            f"the first run, on the fresh endpoint (its limit learned from 2): {first_wall:.3f} s; "
            f"the second started at the concurrency the first learned: {learned}"
        )
    print(f"calls by depth: {counts}")
    print(
        f"lower bound by depth (whole waves) {bound:.3f} s; fractional waves {fractional:.3f} s; "
        f"max(critical path {critical_path:.3f}, calls*latency/concurrency "
        f"{throughput_bound:.3f}) = {coarse:.3f} s"
    )
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
        f"{ideal / bound:.3f} x bound; this run took "
        f"{wall / ideal:.3f} x that, the bare loop {bare / bare_ideal:.3f} x its own "
        f"({bare_ideal:.3f} s)"
    )
    target = 1.10 if args.dataset_type == "single" else 1.15
    print(
        f"over the coarse bound: {wall / coarse:.3f}, over the fractional one: "
        f"{wall / fractional:.3f}"
    )
    if not args.fixed:
        print(f"the first run, on the fresh endpoint: {first_wall / bound:.3f}")
    print(f"ratio: {wall / bound:.3f}  (target <= {target:.2f})")


if __name__ == "__main__":
    main()
