"""The project's requests-per-minute limit holds across the workers of a shared job
(PostgreSQL): they draw it in grants from a bucket in the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from click.testing import Result
from sqlalchemy import select
from test_shared_job_kills import count, slot_holders, task_status, worker

from distillset.llm import LimitSettings, open_gateway
from distillset.llm.shared_rates import DatabaseRates
from distillset.store import Project, RateBucket, Store, Task
from distillset.testing import FakeModelServer
from helpers import make_project, wait_until

NAME = "Sports"
RPM = 240  # 4 a second, a burst of 4
TAGS, QUESTIONS = 2, 16  # 32 answers


def test_draws_from_the_database_bucket_never_grant_more_than_it_holds(
    postgres_url: str, store: Store
) -> None:
    with store.session() as session:
        project = Project(name="Rates", topic="Rates")
        session.add(project)
        session.flush()
        rates = DatabaseRates(store, f"project:{project.id}")
    rate, capacity = 0.001, 10.0  # (refills 0.001 a second: nothing while the test runs)

    def one(_: int) -> float:
        granted, _wait = rates.draw("requests", rate, capacity, need=1, want=3)
        return granted

    with ThreadPoolExecutor(8) as pool:
        grants = list(pool.map(one, range(20)))
    # Created full (10), drawn 3 at a time by concurrent transactions under a row lock.
    assert sum(grants) <= capacity + 0.1
    assert sorted(g for g in grants if g)[-1] == 3 and sum(grants) >= 9
    granted, wait = rates.draw("requests", rate, capacity, need=1, want=3)
    assert granted == 0 and wait > 100  # empty: told how long until one more
    with store.session() as session:
        names = session.scalars(select(RateBucket.name)).all()
    assert names == [f"project:{project.id}:requests"]


def test_two_processes_limiters_keep_the_rpm_and_an_endpoints_tpm_together(
    postgres_url: str, store: Store, fake_server: FakeModelServer
) -> None:
    """Two gateways with limiters of their own, as two processes have, drawing from the
    same buckets: 600 rpm paces both at 10 a second together, not 10 each."""
    fake_server.configure(log_prompts=True)
    limits = LimitSettings(max_concurrency=50, requests_per_minute=600)
    endpoint = fake_server.endpoint(adaptive=False, tpm=600_000)

    async def one_process(process: int) -> None:
        async with open_gateway(store, limits, project_id=None, use_cache=False) as gateway:
            gateway.limiter.share_rates(DatabaseRates(store, "project:1"))
            calls = [
                gateway.chat(
                    endpoint, [{"role": "user", "content": f"Q{n} of {process}?"}], purpose="t"
                )
                for n in range(25)
            ]
            await asyncio.gather(*calls)

    async def scenario() -> None:
        await asyncio.gather(one_process(1), one_process(2))

    asyncio.run(scenario())
    stats = fake_server.stats()
    assert stats.total == 50
    # 10 a second, a burst of 10, and a grant (2.5 requests) each process may still hold.
    assert stats.max_in_window(0.5) <= 5 + 10 + 2 * 2.5, stats.max_in_window(0.5)
    with store.session() as session:
        names = set(session.scalars(select(RateBucket.name)))
    # The endpoint's tokens-per-minute limit follows the project's into the database.
    assert names == {"project:1:requests", f"endpoint:{endpoint.model}@{endpoint.base_url}:tokens"}


def test_two_workers_of_a_shared_job_keep_the_projects_rpm_together(
    postgres_url: str,
    store: Store,
    fake_server: FakeModelServer,
    distillset_home: Path,
    cli: Callable[..., Result],
) -> None:
    fake_server.configure(latency=0.05, log_prompts=True)  # (logged: the arrival times)
    make_project(store, fake_server.url, NAME, max_concurrency=8, requests_per_minute=RPM)
    queued = cli(
        "auto", NAME, "--levels", "1", "--tags", str(TAGS), "--questions", str(QUESTIONS),
        "--queue", "--yes",
    )  # fmt: skip
    assert queued.exit_code == 0, queued.output

    workers = [worker(distillset_home), worker(distillset_home)]
    try:
        wait_until("both workers holding slots", lambda: slot_holders(store) >= 2)
        wait_until("the job's end", lambda: task_status(store) not in ("running", "queued"))
    finally:
        for process in workers:
            process.terminate()
        outputs = [process.communicate(timeout=30)[0] for process in workers]
    with store.session() as session:
        task = session.scalars(select(Task)).one()
    assert task.status == "succeeded", (task.last_error, "\n".join(outputs))
    assert count(store, RateBucket.name) >= 1  # the workers drew from the database

    stats = fake_server.stats()
    assert stats.total >= TAGS * QUESTIONS
    rate, burst = RPM / 60, RPM / 60
    for seconds in (1.0, 2.0, 4.0):
        # The limit over the window, its burst, and one grant each worker may still hold
        # (a grant here is one request: a quarter second of 4 a second).
        allowed = rate * seconds + burst + len(workers)
        assert stats.max_in_window(seconds) <= allowed, (seconds, stats.max_in_window(seconds))
