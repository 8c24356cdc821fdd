"""An in-memory transport for unit tests (httpx's MockTransport): no socket, no server.

def handler(request: MockRequest) -> RawReply:
    return chat_reply(f"echo: {request.body['messages'][-1]['content']}")

gateway = Gateway(limits, transport=MockTransport(handler), calls=..., limiter=...)
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from distillset.llm.config import EndpointConfig
from distillset.llm.transport import NO_HEADERS, RawReply


@dataclass(frozen=True)
class MockRequest:
    """One request as the server would see it (the body decoded)."""

    endpoint: EndpointConfig
    url: str
    body: dict[str, Any]
    stream: bool
    method: str = "POST"


# Returns the reply, or raises TransportError for "no reply came".
Handler = Callable[[MockRequest], RawReply | Awaitable[RawReply]]


class MockTransport:
    """Answers every request with ``handler``; ``requests`` lists what was sent."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[MockRequest] = []
        self.closed = False

    async def send(
        self, endpoint: EndpointConfig, url: str, payload: bytes, *, stream: bool
    ) -> RawReply:
        request = MockRequest(endpoint, url, json.loads(payload), stream)
        self.requests.append(request)
        reply = self._handler(request)
        if inspect.isawaitable(reply):
            reply = await reply
        return reply

    async def get(self, endpoint: EndpointConfig, url: str) -> RawReply:
        request = MockRequest(endpoint, url, {}, False, method="GET")
        self.requests.append(request)
        reply = self._handler(request)
        if inspect.isawaitable(reply):
            reply = await reply
        return reply

    async def aclose(self) -> None:
        self.closed = True


def chat_reply(
    content: str,
    *,
    status: int = 200,
    usage: Mapping[str, int] | None = None,
    finish_reason: str = "stop",
    headers: Mapping[str, str] = NO_HEADERS,
) -> RawReply:
    """A chat completion reply as an OpenAI-compatible server sends it."""
    body = {
        "model": "mock-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": dict(usage or {}),
    }
    return RawReply(status, headers, json.dumps(body))
