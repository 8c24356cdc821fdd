"""Checking an endpoint with one tiny request: reachable, how fast, what it supports."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from distillset.domain import ModelCallError
from distillset.llm.config import EndpointConfig, LimitSettings
from distillset.llm.gateway import Gateway
from distillset.llm.lists import list_response_format, parse_json_list, with_json_object_hint
from distillset.store.db import Store

PING = [{"role": "user", "content": "Reply with the single word: pong"}]
LIST_PING = [
    {
        "role": "user",
        "content": "Name exactly 3 primary colours. Reply with a JSON array of strings only.",
    }
]


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


async def probe_endpoint(store: Store, endpoint: EndpointConfig, *, timeout: float) -> ProbeReport:
    """Raises ModelCallError when the endpoint cannot answer at all."""
    limits = LimitSettings(max_concurrency=1, max_retries=0, request_timeout=timeout)
    async with Gateway(store, limits, project_id=None, use_cache=False) as gateway:
        result = await gateway.chat(endpoint, PING, purpose="model_test")
        mode = endpoint.structured_output if endpoint.structured_output != "none" else "json_schema"
        structured_error = None
        # Asked directly, not through chat_list, which would hide a refusal by falling back.
        messages = with_json_object_hint(LIST_PING) if mode == "json_object" else LIST_PING
        try:
            listed = await gateway.chat(
                endpoint,
                messages,
                purpose="model_test",
                response_format=list_response_format(mode),
            )
            works = len(parse_json_list(listed.content)) > 0
        except ModelCallError as exc:
            works, structured_error = False, str(exc)
    return ProbeReport(
        alias=endpoint.alias,
        model=result.model,
        latency_ms=round(result.latency_ms, 1),
        reply=result.content[:200],
        reasoning=result.reasoning is not None,
        structured_output=mode,
        structured_output_works=works,
        structured_output_error=structured_error,
    )
