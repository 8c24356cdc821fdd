"""The LlmCall table as response cache and usage log."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from distillset.domain import ModelCallError
from distillset.llm import ChatResult, EndpointConfig, LimitSettings, open_gateway
from distillset.store import LlmCall, Store
from distillset.testing import FakeModelServer

ASK = [{"role": "user", "content": "What is a marathon?"}]


def _chat(
    store: Store, endpoint: EndpointConfig, *, use_cache: bool = True, attempt: int = 0
) -> ChatResult:
    async def scenario() -> ChatResult:
        async with open_gateway(store, LimitSettings(), project_id=None, use_cache=use_cache) as gw:
            return await gw.chat(endpoint, ASK, purpose="answer", attempt=attempt, task_id=None)

    return asyncio.run(scenario())


def test_a_repeated_request_is_answered_from_the_store(
    store: Store, fake_server: FakeModelServer
) -> None:
    endpoint = fake_server.endpoint()
    first = _chat(store, endpoint)
    assert fake_server.stats().total == 1
    again = _chat(store, endpoint)  # a new gateway: the cache lives in the database
    assert fake_server.stats().total == 1
    assert again.cached and not first.cached
    assert (again.content, again.reasoning, again.call_id) == (
        first.content,
        first.reasoning,
        first.call_id,
    )


def test_no_cache_and_a_new_attempt_ask_again(store: Store, fake_server: FakeModelServer) -> None:
    endpoint = fake_server.endpoint()
    _chat(store, endpoint)
    _chat(store, endpoint, use_cache=False)
    _chat(store, endpoint, attempt=1)
    assert fake_server.stats().total == 3
    _chat(store, endpoint, attempt=1)
    assert fake_server.stats().total == 3


def test_failures_are_never_served_from_the_cache(
    store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.queue_faults("500")
    endpoint = fake_server.endpoint()
    try:
        asyncio.run(_fail_once(store, endpoint))
    except Exception as exc:  # the failure itself is tested elsewhere
        assert "HTTP 500" in str(exc)
    result = _chat(store, endpoint)
    assert not result.cached and fake_server.stats().total == 2


async def _fail_once(store: Store, endpoint: EndpointConfig) -> None:
    async with open_gateway(store, LimitSettings(max_retries=0), project_id=None) as gateway:
        await gateway.chat(endpoint, ASK, purpose="answer")


def test_usage_row_records_tokens_cost_latency_and_the_request(
    store: Store, fake_server: FakeModelServer
) -> None:
    endpoint = fake_server.endpoint(price_input_per_m=1.0, price_output_per_m=2.0)
    result = _chat(store, endpoint)
    with store.session() as session:
        row = session.scalars(select(LlmCall)).one()
    assert row.id == result.call_id
    assert (row.status, row.http_status, row.purpose, row.endpoint_alias) == (
        "ok",
        200,
        "answer",
        "fake",
    )
    assert row.input_tokens and row.output_tokens and row.reasoning_tokens
    expected = (row.input_tokens * 1.0 + row.output_tokens * 2.0) / 1_000_000
    assert row.cost == result.cost and abs((row.cost or 0) - expected) < 1e-12
    assert row.latency_ms and row.latency_ms > 0
    assert row.request_body and "What is a marathon?" in row.request_body
    assert len(row.request_key) == 64
    assert _chat(store, endpoint).cost == 0.0  # a cached answer costs nothing now


def test_concurrent_calls_each_get_their_own_committed_row(
    store: Store, fake_server: FakeModelServer
) -> None:
    endpoint = fake_server.endpoint()

    async def scenario() -> list[ChatResult]:
        async with open_gateway(store, LimitSettings(max_concurrency=16), project_id=None) as gw:
            asks = [[{"role": "user", "content": f"Q{i}?"}] for i in range(100)]
            return await asyncio.gather(*(gw.chat(endpoint, a, purpose="t") for a in asks))

    results = asyncio.run(scenario())
    with store.session() as session:
        rows = {row.id: row for row in session.scalars(select(LlmCall))}
    assert sorted(rows) == sorted(r.call_id for r in results)
    for result in results:
        assert result.content[:20] in (rows[result.call_id].response_body or "")


def test_identical_requests_in_flight_together_are_sent_once(
    store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(latency=0.1)
    endpoint = fake_server.endpoint()

    async def scenario() -> list[ChatResult]:
        async with open_gateway(store, LimitSettings(), project_id=None) as gateway:
            return await asyncio.gather(
                *(gateway.chat(endpoint, ASK, purpose="answer") for _ in range(5))
            )

    results = asyncio.run(scenario())
    assert fake_server.stats().total == 1
    assert len({(r.content, r.call_id) for r in results}) == 1
    assert sorted(r.cached for r in results) == [False, True, True, True, True]


def test_a_shared_failure_reaches_every_caller(store: Store, fake_server: FakeModelServer) -> None:
    fake_server.configure(latency=0.05, rate_500=1.0)
    endpoint = fake_server.endpoint()

    async def scenario() -> list[ChatResult | BaseException]:
        async with open_gateway(store, LimitSettings(max_retries=0), project_id=None) as gateway:
            calls = [gateway.chat(endpoint, ASK, purpose="answer") for _ in range(3)]
            return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(scenario())
    assert all(isinstance(o, ModelCallError) and o.status == 500 for o in outcomes)
    assert fake_server.stats().total == 1


def test_a_sharer_sends_the_request_itself_when_the_first_caller_is_cancelled(
    store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(latency=0.2)
    endpoint = fake_server.endpoint()

    async def scenario() -> tuple[asyncio.Task[ChatResult], ChatResult]:
        async with open_gateway(store, LimitSettings(), project_id=None) as gateway:
            first = asyncio.create_task(gateway.chat(endpoint, ASK, purpose="answer"))
            await asyncio.sleep(0.05)  # the first request is on its way
            sharer = asyncio.create_task(gateway.chat(endpoint, ASK, purpose="answer"))
            await asyncio.sleep(0.05)
            first.cancel()
            return first, await sharer

    first, result = asyncio.run(scenario())
    assert first.cancelled()
    assert result.cached is False  # the sharer's own call, not a copy of the cancelled one
    assert fake_server.stats().total == 2
    with store.session() as session:
        assert session.scalars(select(LlmCall.id)).all() == [result.call_id]
