"""Limits over real HTTP: concurrency window, shared limiter, RPM, 429 pauses."""

from __future__ import annotations

import asyncio
from typing import Any

from distillset.llm import Gateway, LimitSettings, open_gateway
from distillset.projects.lifecycle import create_project
from distillset.store import LlmCall, Store
from distillset.testing import FakeModelServer


def _ask(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Question number {i}?"}]


async def _many(gateway: Gateway, server: FakeModelServer, count: int, **kw: Any) -> list[Any]:
    # The configured window itself (tests/integration/test_adaptive_concurrency.py learns one).
    endpoint = server.endpoint(adaptive=False)
    calls = [gateway.chat(endpoint, _ask(i), purpose="test", **kw) for i in range(count)]
    return await asyncio.gather(*calls)


def test_max_in_flight_equals_the_limit_under_ten_times_the_load(
    store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(latency=0.05, jitter=0.02)

    async def scenario() -> None:
        async with open_gateway(
            store, LimitSettings(max_concurrency=6), project_id=None
        ) as gateway:
            results = await _many(gateway, fake_server, 60)
        assert len({r.call_id for r in results}) == 60

    asyncio.run(scenario())
    stats = fake_server.stats()
    assert stats.total == 60
    assert stats.max_in_flight == 6


def test_gateways_of_one_project_share_the_limit(
    store: Store, fake_server: FakeModelServer
) -> None:
    with store.session() as session:
        project_id = create_project(session, "Shared").id
    fake_server.configure(latency=0.05)
    limits = LimitSettings(max_concurrency=4)

    async def one_task(offset: int) -> None:
        async with open_gateway(store, limits, project_id=project_id) as gateway:
            endpoint = fake_server.endpoint(adaptive=False)
            await asyncio.gather(
                *(gateway.chat(endpoint, _ask(offset + i), purpose="t") for i in range(20))
            )

    async def scenario() -> None:
        await asyncio.gather(one_task(0), one_task(100), one_task(200))

    asyncio.run(scenario())
    assert fake_server.stats().total == 60
    assert fake_server.stats().max_in_flight == 4


def test_requests_per_minute_is_respected(store: Store, fake_server: FakeModelServer) -> None:
    # 600/min paces at 10 per second with a burst of 10: at most 15 in any half second.
    limits = LimitSettings(max_concurrency=50, requests_per_minute=600)

    async def scenario() -> None:
        async with open_gateway(store, limits, project_id=None) as gateway:
            await _many(gateway, fake_server, 25)

    asyncio.run(scenario())
    stats = fake_server.stats()
    assert stats.total == 25
    assert stats.max_in_window(0.5) <= 16


def test_a_429_pauses_every_request_then_succeeds(
    store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(retry_after=0.5)
    fake_server.queue_faults("429")
    limits = LimitSettings(max_concurrency=1, max_retries=2)

    async def scenario() -> None:
        async with open_gateway(store, limits, project_id=None) as gateway:
            await _many(gateway, fake_server, 3)

    asyncio.run(scenario())
    stats = fake_server.stats()
    assert stats.by_status == {429: 1, 200: 3}
    # Nothing reached the server while the advised pause lasted.
    first, *rest = sorted(stats.arrivals)
    assert all(moment - first >= 0.45 for moment in rest)
    with store.session() as session:
        attempts = sorted(row.attempts for row in session.query(LlmCall))
    assert attempts == [1, 1, 2]


def test_retry_after_ms_and_http_date_are_honoured(
    store: Store, fake_server: FakeModelServer
) -> None:
    limits = LimitSettings(max_concurrency=2, max_retries=2)
    # An HTTP date has one-second resolution: 1.5 s advised is between 0.5 and 1.5 s.
    for fmt, wait, at_least in (("ms", 0.3, 0.25), ("date", 1.5, 0.45)):
        fake_server.reset()
        fake_server.configure(retry_after=wait, retry_after_format=fmt)
        fake_server.queue_faults("429")

        async def scenario() -> None:
            async with open_gateway(store, limits, project_id=None, use_cache=False) as gateway:
                await _many(gateway, fake_server, 1)

        asyncio.run(scenario())
        first, second = sorted(fake_server.stats().arrivals)
        assert second - first >= at_least
        assert fake_server.stats().by_status == {429: 1, 200: 1}


def test_tokens_per_minute_is_respected(store: Store, fake_server: FakeModelServer) -> None:
    # 120k/min is 2000 tokens a second; each call here uses about 100 tokens.
    limits = LimitSettings(max_concurrency=64, tokens_per_minute=120_000)

    async def scenario() -> None:
        async with open_gateway(store, limits, project_id=None) as gateway:
            await _many(gateway, fake_server, 1)  # teaches the gateway the output size
            await _many(gateway, fake_server, 40)

    asyncio.run(scenario())
    stats = fake_server.stats()
    assert stats.total == 40  # the first question was answered again from the cache
    assert stats.max_in_window(0.3) <= 32


def test_an_endpoint_concurrency_limit_is_kept_too(
    store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(latency=0.05)
    endpoint = fake_server.endpoint(alias="narrow", concurrency=3, adaptive=False)

    async def scenario() -> None:
        async with open_gateway(
            store, LimitSettings(max_concurrency=10), project_id=None
        ) as gateway:
            await asyncio.gather(*(gateway.chat(endpoint, _ask(i), purpose="t") for i in range(30)))

    asyncio.run(scenario())
    assert fake_server.stats().max_in_flight == 3
