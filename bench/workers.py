"""Benchmark: one answers job run by 1 and then by 2 `distillset worker` processes sharing it
(with ``--auto``: one automatic distillation, whose expansions and question top-ups are shared
too).

The fake model server runs in its own process with a fixed latency; the project's limit is
high (64 by default, the endpoint's adaptive limit off), so one worker's own CPU (its event
loop, the HTTP client, the database round trips) is the bottleneck. Each run gets a fresh
PostgreSQL database holding the same questions. Prints each run's wall time (the task's
started_at to finished_at) and throughput, the 2-worker throughput over the 1-worker one
(target >= 1.6 when the client is the bottleneck), and the most requests the server saw in
flight at once (never above the limit). The CPU time (user + system, from /proc) that the
workers, the fake server and PostgreSQL used while the task ran is printed per answer too
(on a machine busy with other work the wall times wander, that much less), and from it the
ceiling the machine's cores set for two workers: cores / CPU per answer with two workers,
over one worker's throughput. Where all of them share a few cores, that ceiling, not the
workers, bounds the ratio.

    .venv/bin/python bench/workers.py [--questions 1500 --latency 0.05 --limit 64]
    .venv/bin/python bench/workers.py --auto [--levels 2 --tags 12 --per-leaf 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert

from distillset.auto import create_answers_job, create_auto_job
from distillset.config import load_settings
from distillset.domain import text_hash
from distillset.projects import add_endpoint, create_project, update_project
from distillset.runs import enqueue, get_task
from distillset.store import Question, open_store

PG_SERVER = os.environ.get("DISTILLSET_TEST_PG", "host=127.0.0.1 port=5432 user=postgres")


def start_fake_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "distillset.testing.fake_server", "--port", "0"]
    command += ["--latency", str(latency), "--set", "log_prompts=false"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    match = re.search(r"(http://\S+/v1)", line)
    if not match:
        server.kill()
        raise SystemExit(f"the fake server did not start: {line!r}")
    return server, match.group(1)


def admin(url: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fake server's admin API: GET ``path``, or POST ``body`` to it."""
    base = url.removesuffix("/v1")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}/_fake/{path}",
        data=data,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return dict(json.loads(reply.read()))


def database_url(name: str) -> str:
    params = dict(part.split("=", 1) for part in PG_SERVER.split())
    return (
        f"postgresql+psycopg://{params.get('user', 'postgres')}@"
        f"{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{name}"
    )


def seed(home: Path, url: str, fake_url: str, args: argparse.Namespace) -> tuple[Any, int]:
    """A project with ``questions`` unanswered questions and a queued answers task (with
    ``--auto``: an empty project and a queued automatic distillation)."""
    settings = load_settings(home=home, database_url=url)
    store = open_store(settings)
    with store.session() as session:
        project = create_project(session, "Benchmark topic")
        add_endpoint(session, "fake", model="fake-model", base_url=fake_url, adaptive=False)
        update_project(
            session,
            project,
            question_model="fake",
            answer_model="fake",
            max_concurrency=args.limit,
        )
        if args.auto:
            auto = create_auto_job(
                session,
                settings,
                project.id,
                levels=args.levels,
                tags=args.tags,
                questions=args.per_leaf,
                confirm_large=True,
            )
            enqueue(get_task(session, auto.task_id))
            return store, auto.task_id
        questions = args.questions
        texts = [f"Benchmark question number {number}?" for number in range(questions)]
        session.execute(
            insert(Question),
            [{"project_id": project.id, "text": t, "text_hash": text_hash(t)} for t in texts],
        )
        session.flush()
        job = create_answers_job(session, settings, project.id, confirm_large=True)
        enqueue(get_task(session, job.task_id))
    return store, job.task_id


def one_run(
    workers: int, fake: subprocess.Popen[str], fake_url: str, args: argparse.Namespace
) -> dict[str, Any]:
    name = f"distillset_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG_SERVER} dbname=postgres", autocommit=True) as server:
        server.execute(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as home:
            store, task_id = seed(Path(home), url, fake_url, args)
            admin(fake_url, "reset", {})  # (counters and settings: the latency is set again)
            admin(fake_url, "config", {"latency": args.latency, "log_prompts": False})
            env = {**os.environ, "DISTILLSET_HOME": home, "DISTILLSET_DATABASE_URL": url}
            command = [sys.executable, "-m", "distillset", "worker", "--poll", "0.05"]
            for _ in range(workers):
                processes.append(
                    subprocess.Popen(
                        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                )
            started_cpu: list[dict[int, float]] = []
            while True:
                time.sleep(0.2)
                with store.session() as session:
                    task = get_task(session, task_id)
                    if task.status not in ("queued", "running"):
                        break
                    if task.status == "running" and not started_cpu:
                        started_cpu = _cpu_samples(processes, fake)
            ended_cpu = _cpu_samples(processes, fake)
            assert task.started_at is not None and task.finished_at is not None
            seconds = (task.finished_at - task.started_at).total_seconds()
            stats = admin(fake_url, "stats")
            store.engine.dispose()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        with psycopg.connect(f"{PG_SERVER} dbname=postgres", autocommit=True) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    # The work done: model calls for an automatic distillation, answers for an answers job.
    done = stats["total"] if args.auto else args.questions
    return {
        "status": task.status,
        "done": done,
        "seconds": seconds,
        "per_second": done / seconds,
        "max_in_flight": stats["max_in_flight"],
        "requests": stats["total"],
        "cpu_ms": {
            part: 1000 * _cpu_used(before, after) / done
            for part, before, after in zip(CPU_PARTS, started_cpu, ended_cpu, strict=False)
        },
    }


CPU_PARTS = ("workers", "fake server", "PostgreSQL")


def _cpu_samples(
    processes: list[subprocess.Popen[bytes]], fake: subprocess.Popen[str]
) -> list[dict[int, float]]:
    """CPU seconds so far of the workers, the fake server and PostgreSQL (CPU_PARTS)."""
    groups = [[process.pid for process in processes], [fake.pid], _postgres_pids()]
    return [_cpu_by_pid(pids) for pids in groups]


def _postgres_pids() -> list[int]:
    """The local PostgreSQL server's processes (readable where the bench runs beside it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """The CPU seconds (user + system) each process used so far (none for one that is gone or
    unreadable: /proc is Linux's)."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    return seconds


def _cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two samples (a process started in between counts whole; one
    that ended in between is lost: the pools keep their connections, so few do)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=1500)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--auto", action="store_true", help="an automatic distillation job")
    parser.add_argument("--levels", type=int, default=2)
    parser.add_argument("--tags", type=int, default=12)
    parser.add_argument("--per-leaf", type=int, default=10)
    args = parser.parse_args()

    server, fake_url = start_fake_server(args.latency)
    try:
        runs = {workers: one_run(workers, server, fake_url, args) for workers in (1, 2)}
    finally:
        server.terminate()
        server.wait(timeout=10)
    what = "calls" if args.auto else "answers"
    for workers, run in runs.items():
        print(
            f"{workers} worker(s): {run['status']}, {run['done']} {what} in "
            f"{run['seconds']:.2f}s ({run['per_second']:.0f}/s), {run['requests']} requests, "
            f"max in flight {run['max_in_flight']} (limit {args.limit})"
        )
        if run["cpu_ms"]:
            parts = ", ".join(f"{part} {ms:.2f}" for part, ms in run["cpu_ms"].items())
            total = sum(run["cpu_ms"].values())
            print(f"  CPU ms per {what[:-1]} while it ran: {parts} (total {total:.2f})")
    ratio = runs[2]["per_second"] / runs[1]["per_second"]
    print(f"throughput 2 workers / 1 worker: {ratio:.2f} (target >= 1.6)")
    if runs[2]["cpu_ms"]:
        # What this machine's cores allow two workers beside the server and the database:
        # each answer costs them all this much CPU, so no schedule does more per second.
        cores = os.cpu_count() or 1
        most = 1000 * cores / sum(runs[2]["cpu_ms"].values())
        print(
            f"the {cores} cores' ceiling for 2 workers: {most:.0f} {what}/s (cores / CPU per "
            f"{what[:-1]} with 2 workers), {most / runs[1]['per_second']:.2f} x 1 worker's "
            "throughput"
        )
    held = all(run["max_in_flight"] <= args.limit for run in runs.values())
    print(f"max in flight within the limit: {'yes' if held else 'NO'}")


if __name__ == "__main__":
    main()
