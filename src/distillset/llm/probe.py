"""Checking an endpoint with one tiny request: reachable, how fast, what it supports.

Every capability ends in a verdict: `works`, `refused (why)` or `unknown (why)`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from distillset.domain import ModelCallError
from distillset.llm.config import EndpointConfig, LimitSettings
from distillset.llm.errors import RequestRefused
from distillset.llm.factory import open_gateway
from distillset.llm.gateway import ChatResult, Gateway
from distillset.llm.lists import default_output_bound, list_response_format, with_json_object_hint
from distillset.llm.refusals import MAX_TOKENS
from distillset.llm.soft_labels import ABSENT, MISALIGNED, REFUSED, STORED, UNCHECKED
from distillset.store.db import Store

# The probe's own limits: a stalled server is reported in seconds, not after a run's
# request timeout, and a model that repeats itself cannot run on.
PROBE_TIMEOUT = 15.0
PROBE_MAX_TOKENS = 1024
PING = [{"role": "user", "content": "Reply with the single word: pong"}]
LIST_PING = [
    {
        "role": "user",
        "content": "Name exactly 3 primary colours. Reply with a JSON array of strings only.",
    }
]
WRONG_SHAPE = 'the reply is not the requested JSON object {"items": [...]}'
WORKS = "works"


@dataclass
class ProbeReport:
    alias: str
    model: str  # as the server reports it ("" when no reply came)
    configured_model: str
    latency_ms: float
    reply: str
    reasoning: bool
    structured_output: str  # the mode tried (the endpoint's own, else json_schema)
    structured_output_works: bool
    structured_output_error: str | None
    # Per capability: works / refused (why) / unknown (why).
    verdicts: dict[str, str] = field(default_factory=dict)
    reply_error: str | None = None  # why no plain reply came, when none did
    key_missing: str | None = None  # where a named key was looked for in vain
    # What the server reports of its model (llm.teacher), asked when soft labels are on.
    server_model: dict[str, Any] = field(default_factory=dict)

    @property
    def model_matches(self) -> bool:
        return not self.model or self.model == self.configured_model

    @property
    def ok(self) -> bool:
        return self.reply_error is None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"model_matches": self.model_matches, "ok": self.ok}


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


async def _ask(
    gateway: Gateway,
    endpoint: EndpointConfig,
    messages: list[dict[str, str]],
    response_format: dict[str, Any] | None = None,
    logprobs: int = 0,
) -> ChatResult:
    """One probe request, bounded unless the server refuses the bound itself."""
    sampling = default_output_bound(endpoint, PROBE_MAX_TOKENS)
    ask = functools.partial(
        gateway.chat,
        endpoint,
        messages,
        purpose="model_test",
        response_format=response_format,
        logprobs=logprobs,
    )
    try:
        return await ask(sampling=sampling)
    except RequestRefused as exc:
        if exc.part != MAX_TOKENS or sampling is None:
            raise
        return await ask()


def _why(exc: ModelCallError) -> str:
    """The server's reason, without the `model 'x' failed after 1 attempt(s):` preamble."""
    return str(exc).split(" attempt(s): ", 1)[-1]


def _structured_verdict(exc: ModelCallError) -> str:
    if isinstance(exc, RequestRefused) and exc.part != MAX_TOKENS:
        return f"refused ({_why(exc)})"
    return f"unknown ({_why(exc)})"


def _reasoning_verdict(result: ChatResult | None) -> str:
    if result is None:
        return "unknown (no reply)"
    if result.reasoning is not None:
        return WORKS
    return "unknown (none in the reply: the model may not reason, or not show it)"


async def _logprobs_verdict(gateway: Gateway, endpoint: EndpointConfig) -> str:
    """Whether the server sends the soft labels the endpoint asks for, and with token ids."""
    if endpoint.logprobs <= 0:
        return (
            "unknown (not asked for: `distillset model set "
            f"{endpoint.alias} --logprobs 20` keeps soft labels)"
        )
    try:
        result = await _ask(gateway, endpoint, PING, logprobs=endpoint.logprobs)
    except ModelCallError as exc:
        return f"unknown ({_why(exc)})"
    captured = result.soft_labels
    if captured is None or captured.status == ABSENT:
        return "refused (ignored: the reply carries no logprobs; answers are stored without)"
    if captured.status in STORED:
        verdict = f"{WORKS}, k={captured.k}, token ids: {'yes' if captured.has_ids else 'no'}"
        if captured.k < endpoint.logprobs:
            verdict += f" (asked for {endpoint.logprobs})"
        if captured.status == MISALIGNED:
            verdict += "; the tokens do not spell the reply (records are flagged misaligned)"
        elif captured.status == UNCHECKED:
            verdict += ", token text: no (ids only; the tokenizer spells them)"
        return verdict
    if captured.status == REFUSED:
        return f"refused ({captured.detail}); answers are stored without soft labels"
    return f"refused ({captured.status}: {captured.detail}); answers are stored without"


async def probe_endpoint(
    store: Store, endpoint: EndpointConfig, *, timeout: float = PROBE_TIMEOUT
) -> ProbeReport:
    """One list request in the structured mode answers every question at once.

    A plain ping follows only when the server answered that request with an error (it
    may refuse response_format); ModelCallError when the endpoint cannot answer at all.
    """
    limits = LimitSettings(max_concurrency=1, max_retries=0, request_timeout=timeout)
    mode = endpoint.structured_output if endpoint.structured_output != "none" else "json_schema"
    messages = with_json_object_hint(LIST_PING) if mode == "json_object" else LIST_PING
    structured = WORKS
    result: ChatResult | None = None
    reply_error: str | None = None
    async with open_gateway(store, limits, project_id=None, use_cache=False) as gateway:
        try:
            # Asked directly, not through chat_list, which would hide a refusal by falling back.
            result = await _ask(gateway, endpoint, messages, list_response_format(mode))
        except ModelCallError as exc:
            if exc.status is None:  # no answer at all: a ping would not get one either
                raise
            structured = _structured_verdict(exc)
            try:
                result = await _ask(gateway, endpoint, PING)
            except ModelCallError as ping_exc:
                reply_error = _why(ping_exc)
        else:
            if not in_requested_shape(result.content):
                structured = f"refused (ignored: {WRONG_SHAPE})"
        report = _report(endpoint, mode, structured, result, reply_error)
        if reply_error is None:
            report.verdicts["logprobs"] = await _logprobs_verdict(gateway, endpoint)
        if endpoint.logprobs > 0:
            report.server_model = await gateway.server_identity(endpoint)
    return report


def _report(
    endpoint: EndpointConfig,
    mode: str,
    structured: str,
    result: ChatResult | None,
    reply_error: str | None,
) -> ProbeReport:
    reply = WORKS if reply_error is None else f"unknown (a plain request failed too: {reply_error})"
    return ProbeReport(
        alias=endpoint.alias,
        model=result.model if result is not None else "",
        configured_model=endpoint.model,
        latency_ms=round(result.latency_ms, 1) if result is not None else 0.0,
        reply=result.content[:200] if result is not None else "",
        reasoning=result is not None and result.reasoning is not None,
        structured_output=mode,
        structured_output_works=structured == WORKS,
        structured_output_error=None if structured == WORKS else structured,
        verdicts={
            "plain reply": reply,
            f"structured output ({mode})": structured,
            "reasoning": _reasoning_verdict(result),
        },
        reply_error=reply_error,
        key_missing=endpoint.key_missing,
    )
