"""Embeddings from an OpenAI-compatible `/embeddings` endpoint (OpenAI, vLLM, llama.cpp
server, Ollama, ...): texts in, one vector per text out, in the order given.

Requests go through a ``Transport`` (the gateway's HTTP one by default, an in-memory one in a
unit test), a batch at a time, with a few retries of 429, 5xx and lost connections that honour
``Retry-After``. A failure raises ``ModelCallError`` with the key redacted from its message.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from distillset.domain import ModelCallError
from distillset.llm.completion import error_message
from distillset.llm.config import EndpointConfig
from distillset.llm.redact import redact, redact_values, redactor
from distillset.llm.request import canonical_json, request_key
from distillset.llm.retry import backoff_delay, is_retryable_status, retry_after_seconds
from distillset.llm.transport import RawReply, Transport, TransportError

if TYPE_CHECKING:
    from distillset.llm.calls import CallRecorder

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


@dataclass
class _Posted:
    """One batch's outcome: its vectors and reply text, or why it failed."""

    vectors: list[list[float]] | None
    text: str | None
    status: int | None
    failure: str | None
    attempts: int
    latency_ms: float


async def _send(
    endpoint: EndpointConfig, transport: Transport, payload: str, count: int, sleep: Sleep
) -> _Posted:
    url = f"{endpoint.base_url}/embeddings"
    started = time.perf_counter()
    failure, status, text = "no attempt made", None, None
    for attempt in range(MAX_ATTEMPTS):
        wait: float | None = None
        try:
            reply = await transport.send(endpoint, url, payload.encode("utf-8"), stream=False)
        except TransportError as exc:
            failure, status = str(exc), None
        else:
            text = reply.text
            if reply.status == 200:
                elapsed = (time.perf_counter() - started) * 1000
                return _Posted(_vectors(reply, count), text, 200, None, attempt + 1, elapsed)
            failure, status = f"HTTP {reply.status}: {error_message(reply.text)}", reply.status
            if not is_retryable_status(reply.status):
                break
            wait = retry_after_seconds(reply.headers)
        if attempt + 1 < MAX_ATTEMPTS:
            delay = backoff_delay(attempt, BACKOFF_BASE, BACKOFF_MAX) if wait is None else wait
            await sleep(delay)
    elapsed = (time.perf_counter() - started) * 1000
    return _Posted(None, text, status, failure, attempt + 1, elapsed)


def _payload(endpoint: EndpointConfig, texts: Sequence[str]) -> str:
    return json.dumps({"model": endpoint.model, "input": list(texts)}, ensure_ascii=False)


def _failed(endpoint: EndpointConfig, posted: _Posted) -> ModelCallError:
    message = f"embeddings from {endpoint.alias!r} failed: {posted.failure}"
    return ModelCallError(redact(message, endpoint.api_key), posted.status)


async def _post(
    endpoint: EndpointConfig, transport: Transport, texts: Sequence[str], sleep: Sleep
) -> list[list[float]]:
    posted = await _send(endpoint, transport, _payload(endpoint, texts), len(texts), sleep)
    if posted.vectors is None:
        raise _failed(endpoint, posted)
    return posted.vectors


def _prompt_tokens(text: str | None) -> int | None:
    try:
        usage = json.loads(text or "")["usage"]
        return int(usage.get("prompt_tokens", usage.get("total_tokens")))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


async def logged_embeddings(
    endpoint: EndpointConfig,
    texts: Sequence[str],
    transport: Transport,
    calls: CallRecorder,
    *,
    project_id: int | None,
    task_id: int | None,
    purpose: str,
    use_cache: bool = True,
    batch_size: int = BATCH_SIZE,
) -> list[list[float]]:
    """``embed_texts`` with every batch in the call log, as chat calls are: its usage and
    cost (input tokens at the endpoint's input price), and, when it succeeded, a cache
    entry keyed on the canonical request, so a batch asked again is not paid twice."""
    vectors: list[list[float]] = []
    redact_key = redactor(endpoint.api_key)
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        body = {"model": endpoint.model, "input": list(batch)}
        canonical = canonical_json(body)
        key = request_key(f"{endpoint.base_url}/embeddings", body, 0, canonical)
        stored = await calls.find_success(key) if use_cache else None
        if stored is not None:
            vectors += _vectors(RawReply(200, {}, stored.response_body), len(batch))
            continue
        posted = await _send(
            endpoint, transport, _payload(endpoint, batch), len(batch), asyncio.sleep
        )
        tokens = _prompt_tokens(posted.text) if posted.vectors is not None else None
        row: dict[str, Any] = {
            "project_id": project_id,
            "task_id": task_id,
            "endpoint_alias": endpoint.alias,
            "purpose": purpose,
            "request_key": key,
            "status": "ok" if posted.vectors is not None else "error",
            "http_status": posted.status,
            "error": None if posted.vectors is not None else posted.failure,
            "request_body": canonical,
            "response_body": posted.text,
            "latency_ms": posted.latency_ms,
            "attempts": posted.attempts,
            "input_tokens": tokens,
            "output_tokens": 0 if tokens is not None else None,
            "cost": endpoint.cost_of(tokens, 0) if tokens is not None else None,
        }
        await calls.record(redact_values(row, redact_key))
        if posted.vectors is None:
            raise _failed(endpoint, posted)
        vectors += posted.vectors
    return vectors


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
