"""Checking an endpoint with one tiny request: reachable, how fast, what it supports."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from distillset.domain import ModelCallError
from distillset.llm.config import EndpointConfig, LimitSettings
from distillset.llm.gateway import Gateway
from distillset.llm.lists import list_response_format, with_json_object_hint
from distillset.store.db import Store

PING = [{"role": "user", "content": "Reply with the single word: pong"}]
LIST_PING = [
    {
        "role": "user",
        "content": "Name exactly 3 primary colours. Reply with a JSON array of strings only.",
    }
]
WRONG_SHAPE = 'the reply is not the requested JSON object {"items": [...]}'


@dataclass
class ProbeReport:
    alias: str
    model: str
    latency_ms: float
    reply: str
    reasoning: bool
    structured_output: str  # the mode tried (the endpoint's own, else json_schema)
    structured_output_works: bool
    structured_output_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def in_requested_shape(content: str) -> bool:
    """True when the reply is exactly the JSON object a list request's format asks for.

    A fenced block, a bare array or numbered lines still parse as a list, but they
    show that the server ignored response_format.
    """
    try:
        value = json.loads(content)
    except ValueError:
        return False
    items = value.get("items") if isinstance(value, dict) else None
    return isinstance(items, list) and bool(items) and all(isinstance(i, str) for i in items)


async def probe_endpoint(store: Store, endpoint: EndpointConfig, *, timeout: float) -> ProbeReport:
    """One list request in the structured mode answers every question at once.

    A plain ping follows only when the server answered that request with an error (it
    may refuse response_format); ModelCallError when the endpoint cannot answer at all.
    """
    limits = LimitSettings(max_concurrency=1, max_retries=0, request_timeout=timeout)
    mode = endpoint.structured_output if endpoint.structured_output != "none" else "json_schema"
    messages = with_json_object_hint(LIST_PING) if mode == "json_object" else LIST_PING
    structured_error: str | None = None
    async with Gateway(store, limits, project_id=None, use_cache=False) as gateway:
        try:
            # Asked directly, not through chat_list, which would hide a refusal by falling back.
            result = await gateway.chat(
                endpoint,
                messages,
                purpose="model_test",
                response_format=list_response_format(mode),
            )
        except ModelCallError as exc:
            if exc.status is None:  # no answer at all: a ping would not get one either
                raise
            structured_error = str(exc)
            result = await gateway.chat(endpoint, PING, purpose="model_test")
        else:
            if not in_requested_shape(result.content):
                structured_error = WRONG_SHAPE
    return ProbeReport(
        alias=endpoint.alias,
        model=result.model,
        latency_ms=round(result.latency_ms, 1),
        reply=result.content[:200],
        reasoning=result.reasoning is not None,
        structured_output=mode,
        structured_output_works=structured_error is None,
        structured_output_error=structured_error,
    )
