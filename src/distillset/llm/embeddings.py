"""Embeddings from an OpenAI-compatible `/embeddings` endpoint (OpenAI, vLLM, llama.cpp
server, Ollama, ...): texts in, one vector per text out, in the order given.

Requests go through a ``Transport`` (the gateway's HTTP one by default, an in-memory one in a
unit test), a batch at a time, with a few retries of 429, 5xx and lost connections that honour
``Retry-After``. A failure raises ``ModelCallError`` with the key redacted from its message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence

from distillset.domain import ModelCallError
from distillset.llm.completion import error_message
from distillset.llm.config import EndpointConfig
from distillset.llm.redact import redact
from distillset.llm.retry import backoff_delay, is_retryable_status, retry_after_seconds
from distillset.llm.transport import RawReply, Transport, TransportError

BATCH_SIZE = 64
MAX_ATTEMPTS = 4
BACKOFF_BASE = 0.5
BACKOFF_MAX = 30.0

Sleep = Callable[[float], Awaitable[None]]


def _vectors(reply: RawReply, count: int) -> list[list[float]]:
    """The reply's vectors by their `index`, checked: one list of numbers per input."""
    try:
        data = json.loads(reply.text)["data"]
        ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
        vectors = [[float(value) for value in item["embedding"]] for item in ordered]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ModelCallError("the embeddings reply is not a list of vectors") from None
    if len(vectors) != count or len({len(vector) for vector in vectors}) > 1:
        raise ModelCallError(
            f"the embeddings reply holds {len(vectors)} vectors of uneven or missing length "
            f"for {count} texts"
        )
    return vectors


async def _post(
    endpoint: EndpointConfig, transport: Transport, texts: Sequence[str], sleep: Sleep
) -> list[list[float]]:
    url = f"{endpoint.base_url}/embeddings"
    payload = json.dumps({"model": endpoint.model, "input": list(texts)}, ensure_ascii=False)
    for attempt in range(MAX_ATTEMPTS):
        wait: float | None = None
        try:
            reply = await transport.send(endpoint, url, payload.encode("utf-8"), stream=False)
        except TransportError as exc:
            failure, status = str(exc), None
        else:
            if reply.status == 200:
                return _vectors(reply, len(texts))
            failure, status = f"HTTP {reply.status}: {error_message(reply.text)}", reply.status
            if not is_retryable_status(reply.status):
                break
            wait = retry_after_seconds(reply.headers)
        if attempt + 1 < MAX_ATTEMPTS:
            delay = backoff_delay(attempt, BACKOFF_BASE, BACKOFF_MAX) if wait is None else wait
            await sleep(delay)
    message = f"embeddings from {endpoint.alias!r} failed: {failure}"
    raise ModelCallError(redact(message, endpoint.api_key), status)


async def embed_texts(
    endpoint: EndpointConfig,
    texts: Sequence[str],
    transport: Transport,
    *,
    batch_size: int = BATCH_SIZE,
    sleep: Sleep = asyncio.sleep,
) -> list[list[float]]:
    """One vector per text, asked for ``batch_size`` texts at a time."""
    vectors: list[list[float]] = []
    for start in range(0, len(texts), batch_size):
        vectors += await _post(endpoint, transport, texts[start : start + batch_size], sleep)
    return vectors
