"""What the gateway answers: a reply, a parsed list, and the hook awaited before a send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from distillset.llm.completion import NO_USAGE, Usage

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


@dataclass(slots=True)
class ListResult:
    items: list[str]
    result: ChatResult
