"""The usage log counts every billed attempt of a request, over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
from sqlalchemy import select

from distillset.domain import ModelCallError
from distillset.llm import (
    CallLog,
    EndpointConfig,
    Gateway,
    HttpTransport,
    Limiter,
    LimitSettings,
    open_gateway,
)
from distillset.llm.limiter import Permit
from distillset.store import LlmCall, Store
from distillset.testing import FakeModelServer

ASK = [{"role": "user", "content": "How long should a warm-up last?"}]
RETRY_FAST = LimitSettings(max_retries=2, request_timeout=5, backoff_base=0.01)
ONCE = LimitSettings(max_retries=0, request_timeout=5)


class SettlingLimiter(Limiter):
    """A limiter that notes the tokens each released permit is settled with."""

    def __init__(self) -> None:
        super().__init__(4, None, 1_000_000)
        self.settled: list[int | None] = []

    def release(self, permit: Permit, actual_tokens: int | None = None) -> None:
        self.settled.append(actual_tokens)
        super().release(permit, actual_tokens)


def _call(
    store: Store, endpoint: EndpointConfig, limits: LimitSettings, limiter: Limiter | None = None
) -> LlmCall:
    """One uncached request; the row it left, whether it succeeded or not."""

    async def scenario() -> None:
        gateway = Gateway(
            limits,
            transport=HttpTransport(limits.max_concurrency, limits.request_timeout),
            calls=CallLog(store),
            limiter=limiter or Limiter(limits.max_concurrency),
            use_cache=False,
        )
        async with gateway:
            with contextlib.suppress(ModelCallError):
                await gateway.chat(endpoint, ASK, purpose="answer")

    asyncio.run(scenario())
    with store.session() as session:
        row = session.scalars(select(LlmCall).order_by(LlmCall.id.desc())).first()
    assert row is not None
    return row


def _priced(fake_server: FakeModelServer) -> EndpointConfig:
    return fake_server.endpoint(price_input_per_m=1.0, price_output_per_m=2.0)


@pytest.mark.parametrize("fault", ["truncated", "empty"])
def test_a_retried_reply_that_was_billed_counts_in_the_row(
    store: Store, fake_server: FakeModelServer, fault: str
) -> None:
    endpoint = _priced(fake_server)
    fake_server.queue_faults(fault)
    rejected = _call(store, endpoint, ONCE)
    ok = _call(store, endpoint, ONCE)
    assert rejected.status == "error" and rejected.output_tokens and ok.output_tokens

    fake_server.queue_faults(fault, "ok")
    both = _call(store, endpoint, RETRY_FAST)

    assert both.status == "ok" and both.attempts == 2
    assert both.input_tokens == (rejected.input_tokens or 0) + (ok.input_tokens or 0)
    assert both.output_tokens == rejected.output_tokens + ok.output_tokens
    assert both.reasoning_tokens == (rejected.reasoning_tokens or 0) + (ok.reasoning_tokens or 0)
    assert both.cost == pytest.approx((rejected.cost or 0) + (ok.cost or 0))
    assert (both.cost or 0) > (ok.cost or 0)


def test_the_result_cost_is_the_billed_total_and_its_tokens_the_replys_own(
    store: Store, fake_server: FakeModelServer
) -> None:
    endpoint = _priced(fake_server)

    async def scenario() -> tuple[int | None, float | None]:
        async with open_gateway(store, RETRY_FAST, project_id=None, use_cache=False) as gateway:
            fake_server.queue_faults("truncated", "ok")
            result = await gateway.chat(endpoint, ASK, purpose="answer")
            return result.output_tokens, result.cost

    output_tokens, cost = asyncio.run(scenario())
    with store.session() as session:
        row = session.scalars(select(LlmCall)).one()
    assert cost == row.cost
    assert output_tokens is not None and row.output_tokens is not None
    assert output_tokens < row.output_tokens  # the answer's usage, not the retries'


def test_a_failure_with_nothing_billed_has_no_usage(
    store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.queue_faults("500", "malformed", "500")
    row = _call(store, _priced(fake_server), RETRY_FAST)
    assert row.status == "error" and row.attempts == 3
    assert (row.input_tokens, row.output_tokens, row.cost) == (None, None, None)


def test_the_limiter_is_settled_with_each_attempts_own_usage(
    store: Store, fake_server: FakeModelServer
) -> None:
    endpoint = fake_server.endpoint()
    fake_server.queue_faults("truncated")
    rejected = _call(store, endpoint, ONCE)
    ok = _call(store, endpoint, ONCE)
    limiter = SettlingLimiter()

    fake_server.queue_faults("500", "truncated", "ok")
    _call(store, endpoint, RETRY_FAST, limiter)

    def used(row: LlmCall) -> int:
        return (row.input_tokens or 0) + (row.output_tokens or 0)

    # A 500 reports nothing: its estimate stands.
    assert limiter.settled == [None, used(rejected), used(ok)]


def test_a_timeout_is_logged_with_the_time_it_took(
    store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(stall_seconds=5)
    fake_server.queue_faults("stall")
    row = _call(store, fake_server.endpoint(), LimitSettings(max_retries=0, request_timeout=0.3))
    assert row.error and "no response within 0.3s" in row.error
    assert row.latency_ms is not None and row.latency_ms >= 250  # not 0: it waited


def test_a_refused_connection_is_logged_with_a_latency(store: Store) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = EndpointConfig(alias="down", base_url=f"http://127.0.0.1:{port}/v1", model="m")
    row = _call(store, endpoint, ONCE)
    assert row.error and "cannot connect" in row.error
    assert row.latency_ms is not None and row.latency_ms > 0
