"""What the gateway answers: a reply, a parsed list, and the hook awaited before a send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from distillset.llm.completion import NO_USAGE, Completion, Usage
from distillset.llm.soft_labels import SoftLabelCapture

# Awaited right before each attempt is sent, its limiter slot held; whatever it raises
# stops the request unsent (the work's target was deleted, say).
BeforeSend = Callable[[], Awaitable[None]]
# Awaited before each request goes out, with its estimated cost (a task run's lease, budget).
SendGuard = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class ChatResult:
    """A reply; its tokens are the reply's own, ``billed`` and ``cost`` what every attempt
    at it reported and cost (nothing for an answer from the cache)."""

    content: str
    reasoning: str | None
    finish_reason: str | None
    model: str
    input_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None
    cost: float | None
    latency_ms: float
    cached: bool
    call_id: int
    billed: Usage = NO_USAGE
    # The generated text as sent, where the answer and reasoning lie in it, and the soft
    # labels when they were asked for (see Completion).
    raw_content: str = ""
    raw_reasoning: str | None = None
    spans: dict[str, Any] | None = None
    soft_labels: SoftLabelCapture | None = None


def result_of(
    completion: Completion,
    configured_model: str,
    *,
    cost: float | None,
    latency_ms: float,
    cached: bool,
    call_id: int,
    billed: Usage = NO_USAGE,
) -> ChatResult:
    """The result of a reply (sent now, or from the cache)."""
    return ChatResult(
        content=completion.content,
        reasoning=completion.reasoning,
        finish_reason=completion.finish_reason,
        model=completion.model or configured_model,
        input_tokens=completion.usage.input_tokens,
        output_tokens=completion.usage.output_tokens,
        reasoning_tokens=completion.usage.reasoning_tokens,
        cost=cost,
        latency_ms=latency_ms,
        cached=cached,
        call_id=call_id,
        billed=billed,
        raw_content=completion.raw_content,
        raw_reasoning=completion.raw_reasoning,
        spans=completion.spans,
        soft_labels=completion.soft_labels,
    )


@dataclass(slots=True)
class ListResult:
    items: list[str]
    result: ChatResult
