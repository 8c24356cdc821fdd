"""How requests reach a server: the Transport a gateway is given, and the HTTP one it
gets by default (pooled aiohttp sessions, plain and streamed replies).

A transport answers one POST with a RawReply, or raises TransportError when no reply came
(timeout, refused connection); a unit test passes an in-memory transport instead
(httpx's ``transport=`` argument; see ``distillset.llm.mock_transport``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

import aiohttp

from distillset.llm.config import EndpointConfig

CONNECT_TIMEOUT = 30.0
NO_HEADERS: Mapping[str, str] = MappingProxyType({})
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@dataclass
class RawReply:
    """An HTTP answer; a streamed one is reassembled into a non-streamed body."""

    status: int
    headers: Mapping[str, str]
    text: str


class TransportError(Exception):
    """No reply came (a timeout, a refused or lost connection); the message says which
    and is safe to show once the endpoint's key is redacted. Always retryable."""


class Transport(Protocol):
    async def send(
        self, endpoint: EndpointConfig, url: str, payload: bytes, *, stream: bool
    ) -> RawReply:
        """POST ``payload`` (a JSON body) to ``url``; a streamed reply comes reassembled."""
        ...

    async def get(self, endpoint: EndpointConfig, url: str) -> RawReply:
        """GET ``url`` (what a server says of itself: its models, its properties)."""
        ...

    async def aclose(self) -> None: ...


class HttpTransport:
    """One pooled ClientSession per (base URL, key), sized to the limit of calls in flight
    (the smaller of ``max_concurrency`` and the endpoint's own concurrency)."""

    def __init__(self, max_concurrency: int, request_timeout: float) -> None:
        self._sessions: dict[tuple[str, str | None], aiohttp.ClientSession] = {}
        self._max_concurrency = max_concurrency
        self._timeout_seconds = request_timeout
        self._timeout = client_timeout(request_timeout)

    async def send(
        self, endpoint: EndpointConfig, url: str, payload: bytes, *, stream: bool
    ) -> RawReply:
        session = self.session_for(endpoint)
        try:
            async with session.post(url, data=payload, timeout=self._timeout) as response:
                # Headers matter only for failures (Retry-After); skip copying them otherwise.
                headers = (
                    NO_HEADERS
                    if response.status == 200
                    else {k.lower(): v for k, v in response.headers.items()}
                )
                is_sse = response.content_type == "text/event-stream"
                if stream and response.status == 200 and is_sse:
                    return RawReply(response.status, headers, await _read_stream(response))
                raw = await response.read()
                return RawReply(response.status, headers, raw.decode("utf-8", errors="replace"))
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            raise TransportError(_failure(exc, url, self._timeout_seconds)) from None

    async def get(self, endpoint: EndpointConfig, url: str) -> RawReply:
        session = self.session_for(endpoint)
        try:
            async with session.get(url, timeout=self._timeout) as response:
                raw = await response.read()
                return RawReply(response.status, NO_HEADERS, raw.decode("utf-8", "replace"))
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            raise TransportError(_failure(exc, url, self._timeout_seconds)) from None

    def session_for(self, endpoint: EndpointConfig) -> aiohttp.ClientSession:
        pool_key = (endpoint.base_url, endpoint.api_key)
        session = self._sessions.get(pool_key)
        if session is None or session.closed:
            size = min(self._max_concurrency, endpoint.concurrency or self._max_concurrency)
            headers = {"Content-Type": "application/json"}
            if endpoint.api_key:
                headers["Authorization"] = f"Bearer {endpoint.api_key}"
            connector = aiohttp.TCPConnector(
                limit=max(1, size), limit_per_host=0, ttl_dns_cache=300
            )
            session = aiohttp.ClientSession(
                connector=connector,
                headers=headers,
                raise_for_status=False,
                # Model APIs set no cookies; the default jar filters them on every request.
                cookie_jar=aiohttp.DummyCookieJar(),
                # Reading proxy settings costs two thread hops per request: only when set.
                trust_env=_proxy_configured(),
            )
            self._sessions[pool_key] = session
        return session

    async def aclose(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()


def _proxy_configured() -> bool:
    return any(os.environ.get(name) for name in PROXY_VARIABLES)


def client_timeout(request_timeout: float) -> aiohttp.ClientTimeout:
    # sock_read bounds a silent server (a stall) without counting time spent queued
    # for a pooled connection; for streams it bounds the gap between chunks.
    return aiohttp.ClientTimeout(
        total=None,
        sock_connect=min(CONNECT_TIMEOUT, request_timeout),
        sock_read=request_timeout,
    )


def _failure(exc: BaseException, url: str, timeout_seconds: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no response within {timeout_seconds:g}s"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        return f"cannot connect to {url}: {reason}"
    return f"connection lost: {type(exc).__name__}"


async def _read_stream(response: aiohttp.ClientResponse) -> str:
    """Join SSE chunks into the body a non-streamed call would have returned."""
    content: list[str] = []
    reasoning: list[str] = []
    reasoning_field = "reasoning_content"
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    tokens: list[Any] | None = None  # logprobs entries, when the chunks carry any
    model = ""
    async for raw_line in response.content:
        line = raw_line.decode("utf-8", errors="replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        try:
            chunk = json.loads(data)
        except ValueError:
            continue
        model = chunk.get("model") or model
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                content.append(delta["content"])
            for name in ("reasoning_content", "reasoning"):
                if isinstance(delta.get(name), str):
                    reasoning.append(delta[name])
                    reasoning_field = name
            finish_reason = choice.get("finish_reason") or finish_reason
            if choice.get("logprobs") is not None:
                tokens = _add_logprobs(tokens, choice["logprobs"])
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    if reasoning:
        message[reasoning_field] = "".join(reasoning)
    choice = {"index": 0, "message": message, "finish_reason": finish_reason}
    if tokens is not None:
        choice["logprobs"] = {"content": tokens}
    assembled = {"model": model, "choices": [choice], "usage": usage}
    return json.dumps(assembled, ensure_ascii=False)


def _add_logprobs(tokens: list[Any] | None, logprobs: Any) -> list[Any] | None:
    """A chunk's logprobs entries after the earlier ones; a chunk whose logprobs are not
    `{"content": [...]}` leaves a None among them, which the reader refuses as malformed."""
    entries = logprobs.get("content") if isinstance(logprobs, dict) else logprobs
    if entries is None:
        return tokens
    tokens = [] if tokens is None else tokens
    if isinstance(entries, list):
        tokens.extend(entries)
    else:
        tokens.append(None)
    return tokens
