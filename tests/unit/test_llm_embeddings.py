"""The embeddings client: batches in order, retries what is worth retrying, refuses a reply it
cannot read, and never shows the key (an in-memory transport, no server)."""

from __future__ import annotations

import asyncio
import json

import pytest

from distillset.domain import ModelCallError
from distillset.llm import EndpointConfig, RawReply, TransportError, embed_texts
from distillset.llm.mock_transport import MockRequest, MockTransport

KEY = "sk-embeddings-secret-42"
ENDPOINT = EndpointConfig(alias="emb", base_url="http://embed.test/v1", model="e5", api_key=KEY)


def vectors_reply(request: MockRequest) -> RawReply:
    texts = request.body["input"]
    # Listed out of order: the client puts them back by index.
    data = [{"index": i, "embedding": [float(len(t)), 1.0]} for i, t in enumerate(texts)]
    return RawReply(200, {}, json.dumps({"data": list(reversed(data))}))


def embed(transport: MockTransport, texts: list[str], batch_size: int = 64) -> list[list[float]]:
    async def no_wait(seconds: float) -> None:
        return None

    return asyncio.run(
        embed_texts(ENDPOINT, texts, transport, batch_size=batch_size, sleep=no_wait)
    )


def test_texts_go_in_batches_and_come_back_in_order() -> None:
    transport = MockTransport(vectors_reply)
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    assert embed(transport, texts, batch_size=2) == [[float(n), 1.0] for n in range(1, 6)]
    assert [r.body["input"] for r in transport.requests] == [
        ["a", "bb"],
        ["ccc", "dddd"],
        ["eeeee"],
    ]
    assert {r.url for r in transport.requests} == {"http://embed.test/v1/embeddings"}
    assert transport.requests[0].body["model"] == "e5"


def test_rate_limits_server_errors_and_lost_connections_are_retried() -> None:
    outcomes = iter(["429", "lost", "503"])

    def handler(request: MockRequest) -> RawReply:
        outcome = next(outcomes, "ok")
        if outcome == "lost":
            raise TransportError("connection lost: ServerDisconnectedError")
        if outcome != "ok":
            return RawReply(int(outcome), {"retry-after": "0"}, '{"error": {"message": "busy"}}')
        return vectors_reply(request)

    transport = MockTransport(handler)
    assert embed(transport, ["x"]) == [[1.0, 1.0]]
    assert len(transport.requests) == 4


def test_a_refusal_is_not_retried_and_its_message_hides_the_key() -> None:
    def handler(request: MockRequest) -> RawReply:
        return RawReply(400, {}, json.dumps({"error": {"message": f"bad key {KEY}"}}))

    transport = MockTransport(handler)
    with pytest.raises(ModelCallError, match="HTTP 400") as caught:
        embed(transport, ["x"])
    assert KEY not in str(caught.value) and len(transport.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({"data": [{"index": 0}]}),
        json.dumps({"data": [{"index": 0, "embedding": [1.0]}]}),  # one vector for two texts
        json.dumps({"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1, 2]}]}),
    ],
)
def test_an_unreadable_reply_is_an_error(body: str) -> None:
    transport = MockTransport(lambda request: RawReply(200, {}, body))
    with pytest.raises(ModelCallError, match="embeddings reply"):
        embed(transport, ["x", "y"])
