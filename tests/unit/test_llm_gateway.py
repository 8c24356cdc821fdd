"""The gateway with its parts passed in: an in-memory transport and call log, no server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from distillset.domain import ModelCallError
from distillset.llm import (
    EndpointConfig,
    Gateway,
    Limiter,
    LimitSettings,
    RawReply,
    TransportError,
)
from distillset.llm.call_rows import StoredCall
from distillset.llm.mock_transport import MockRequest, MockTransport, chat_reply

ENDPOINT = EndpointConfig(alias="mock", base_url="http://model.invalid/v1", model="m")
ASK = [{"role": "user", "content": "Why stretch?"}]
FAST_RETRIES = LimitSettings(max_retries=2, backoff_base=0.001, backoff_max=0.001)


class MemoryCallLog:
    """The call log's contract, with rows in a list."""

    def __init__(self) -> None:
        self.scope = f"memory:{id(self)}"
        self.rows: list[dict[str, Any]] = []
        self.closed = False

    async def find_success(self, request_key: str) -> StoredCall | None:
        for call_id, row in reversed(list(enumerate(self.rows, start=1))):
            if row["request_key"] == request_key and row["status"] == "ok":
                return StoredCall(call_id, row["response_body"], row["latency_ms"])
        return None

    async def record(self, values: dict[str, Any]) -> int:
        self.rows.append(dict(values))
        return len(self.rows)

    async def update(self, call_id: int, values: dict[str, Any]) -> None:
        self.rows[call_id - 1].update(values)

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


def _gateway(
    transport: MockTransport,
    calls: MemoryCallLog,
    limits: LimitSettings = FAST_RETRIES,
    limiter: Limiter | None = None,
) -> Gateway:
    limiter = limiter or Limiter(limits.max_concurrency)
    return Gateway(limits, transport=transport, calls=calls, limiter=limiter)


def test_a_reply_is_parsed_and_logged_through_the_given_call_log() -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": 7}
    transport = MockTransport(lambda request: chat_reply("Blood flow.", usage=usage))
    calls = MemoryCallLog()

    async def scenario() -> tuple[Any, Any]:
        async with _gateway(transport, calls) as gateway:
            first = await gateway.chat(ENDPOINT, ASK, purpose="answer", task_id=None)
            again = await gateway.chat(ENDPOINT, ASK, purpose="answer")
            return first, again

    first, again = asyncio.run(scenario())

    assert (first.content, first.input_tokens, first.output_tokens) == ("Blood flow.", 12, 7)
    assert not first.cached and first.call_id == 1
    [row] = calls.rows
    assert row["status"] == "ok" and row["purpose"] == "answer" and row["attempts"] == 1
    assert json.loads(row["request_body"])["messages"] == ASK
    # The second ask is answered from the log it was given, not sent again.
    assert again.cached and again.content == "Blood flow." and again.call_id == 1
    assert len(transport.requests) == 1
    assert transport.requests[0].url == "http://model.invalid/v1/chat/completions"
    assert transport.closed and calls.closed


@pytest.mark.parametrize("failure", ["HTTP 503", "no reply"])
def test_a_retryable_failure_is_retried_and_logged_once(failure: str) -> None:
    replies: list[str] = []

    def handler(request: MockRequest) -> RawReply:
        replies.append(failure)
        if len(replies) == 1:
            if failure == "no reply":
                raise TransportError("connection lost: ServerDisconnectedError")
            return RawReply(503, {}, '{"error": {"message": "busy"}}')
        return chat_reply("Warm muscles.")

    calls = MemoryCallLog()

    async def scenario() -> Any:
        async with _gateway(MockTransport(handler), calls) as gateway:
            return await gateway.chat(ENDPOINT, ASK, purpose="answer")

    result = asyncio.run(scenario())

    assert result.content == "Warm muscles." and len(replies) == 2
    [row] = calls.rows
    assert row["status"] == "ok" and row["attempts"] == 2


def test_a_failure_past_the_retries_raises_and_is_logged() -> None:
    calls = MemoryCallLog()
    transport = MockTransport(lambda request: RawReply(500, {}, "down"))

    async def scenario() -> None:
        async with _gateway(transport, calls) as gateway:
            await gateway.chat(ENDPOINT, ASK, purpose="answer")

    with pytest.raises(ModelCallError, match="failed after 3 attempt"):
        asyncio.run(scenario())
    [row] = calls.rows
    assert row["status"] == "error" and row["http_status"] == 500 and row["attempts"] == 3


def test_the_limiter_passed_in_holds_each_request() -> None:
    limiter = Limiter(1)
    held: list[int] = []

    def handler(request: MockRequest) -> RawReply:
        held.append(limiter.in_flight)  # the request holds a slot of that very limiter
        return chat_reply(f"reply {len(held)}")

    async def scenario() -> Gateway:
        gateway = _gateway(MockTransport(handler), MemoryCallLog(), limiter=limiter)
        async with gateway:
            asks = [[{"role": "user", "content": f"q{i}"}] for i in range(3)]
            await asyncio.gather(*(gateway.chat(ENDPOINT, ask, purpose="answer") for ask in asks))
        return gateway

    gateway = asyncio.run(scenario())

    assert gateway.limiter is limiter
    assert held == [1, 1, 1] and limiter.in_flight == 0
