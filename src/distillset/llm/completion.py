"""Reading a chat completion body: the message, finish reason and token usage."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distillset.domain import storable_text
from distillset.llm.logprobs import PACKED, capture, from_packed, packed_entry
from distillset.llm.reasoning import raw_parts, split_reasoning, text_spans
from distillset.llm.soft_labels import ABSENT, SoftLabelCapture


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _plus(first: int | None, second: int | None) -> int | None:
    return None if first is None and second is None else (first or 0) + (second or 0)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts a reply reports; None where it reports none."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    # Of the input tokens, those served from the provider's prompt cache.
    cached_input_tokens: int | None = None

    def __add__(self, other: Usage) -> Usage:
        if not other.reported:
            return self
        if not self.reported:
            return other
        return Usage(
            _plus(self.input_tokens, other.input_tokens),
            _plus(self.output_tokens, other.output_tokens),
            _plus(self.reasoning_tokens, other.reasoning_tokens),
            _plus(self.cached_input_tokens, other.cached_input_tokens),
        )

    @property
    def reported(self) -> bool:
        return not (
            self.input_tokens is None
            and self.output_tokens is None
            and self.reasoning_tokens is None
        )

    @property
    def total(self) -> int | None:
        """Input plus output, what a tokens-per-minute limit counts; None without input."""
        if self.input_tokens is None:
            return None
        return self.input_tokens + (self.output_tokens or 0)


NO_USAGE = Usage()  # a reply that reports no tokens


class MalformedReply(ValueError):
    """The body is not a chat completion; `usage` is what it reports all the same."""

    def __init__(self, message: str, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.usage = NO_USAGE if usage is None else usage


@dataclass(frozen=True, slots=True)
class Completion:
    content: str
    reasoning: str | None
    finish_reason: str | None
    model: str | None
    usage: Usage
    # The generated text exactly as sent (control characters aside, see storable_text): the
    # content, the reasoning where the server sent it apart, and where the answer and the
    # reasoning lie in them (see reasoning.text_spans).
    raw_content: str = ""
    raw_reasoning: str | None = None
    spans: dict[str, Any] | None = None
    # What became of the soft labels asked for (None: none were asked for).
    soft_labels: SoftLabelCapture | None = None
    # The body to keep in the call log when it is not the text received: soft labels packed.
    stored_body: str | None = None


def usage_of(body: dict[str, Any]) -> Usage:
    """The `usage` object of a response body, read leniently."""
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return NO_USAGE
    details = usage.get("completion_tokens_details") or {}
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return Usage(
        input_tokens=_int_or_none(usage.get("prompt_tokens")),
        output_tokens=_int_or_none(usage.get("completion_tokens")),
        reasoning_tokens=_int_or_none(
            usage.get("reasoning_tokens") if reasoning is None else reasoning
        ),
        cached_input_tokens=_cached_tokens(usage),
    )


def _cached_tokens(usage: dict[str, Any]) -> int | None:
    """Input tokens served from the prompt cache: OpenAI's (and vLLM's, OpenRouter's)
    ``prompt_tokens_details.cached_tokens``, or DeepSeek's ``prompt_cache_hit_tokens``."""
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict) and (cached := _int_or_none(details.get("cached_tokens"))):
        return cached
    hit = _int_or_none(usage.get("prompt_cache_hit_tokens"))
    if hit is not None:
        return hit
    return _int_or_none(details.get("cached_tokens")) if isinstance(details, dict) else None


# A body this long (logprobs: ~2 KB a token) is decoded with the cyclic garbage collector
# paused: its thousands of short-lived, acyclic dicts and lists would set it off again and
# again, to scan the whole heap for nothing (about 40% of reading such a reply).
LARGE_BODY_CHARS = 64 * 1024


def _loads(text: str) -> Any:
    if len(text) < LARGE_BODY_CHARS or not gc.isenabled():
        return json.loads(text)
    gc.disable()
    try:
        return json.loads(text)
    finally:
        gc.enable()


def parse_completion(
    text: str, *, top_k: int = 0, redact: Callable[[str], str] | None = None
) -> Completion:
    """The completion in a response body; with ``top_k`` its soft labels too (``redact``
    withholds tokens that spell the key)."""
    try:
        body = _loads(text)
    except ValueError as exc:
        raise MalformedReply(f"the response is not valid JSON ({exc.args[0][:60]})") from exc
    if not isinstance(body, dict):
        raise MalformedReply("the response is not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedReply("the response has no choices", usage_of(body))
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise MalformedReply("the response choice has no message", usage_of(body))
    reasoning_sent, answer_sent = split_reasoning(message)
    raw_content, raw_reasoning = raw_parts(message)
    soft_labels = _soft_labels(choice, top_k, raw_content, raw_reasoning, answer_sent, redact)
    stored_body = None
    if soft_labels is not None and "logprobs" in choice:
        choice["logprobs"] = packed_entry(soft_labels)
        stored_body = json.dumps(body, ensure_ascii=False)
    reasoning = None if reasoning_sent is None else storable_text(reasoning_sent)
    answer = storable_text(answer_sent)
    raw_content = storable_text(raw_content)
    raw_reasoning = None if raw_reasoning is None else storable_text(raw_reasoning)
    return Completion(
        content=answer,
        reasoning=reasoning,
        finish_reason=choice.get("finish_reason"),
        model=body.get("model") if isinstance(body.get("model"), str) else None,
        usage=usage_of(body),
        raw_content=raw_content,
        raw_reasoning=raw_reasoning,
        spans=text_spans(raw_content, raw_reasoning, reasoning, answer),
        soft_labels=soft_labels,
        stored_body=stored_body,
    )


def _soft_labels(
    choice: dict[str, Any],
    top_k: int,
    raw_content: str,
    raw_reasoning: str | None,
    answer: str,
    redact: Callable[[str], str] | None,
) -> SoftLabelCapture | None:
    """What the choice's `logprobs` gives (packed ones, when read back from the call log)."""
    payload = choice.get("logprobs")
    if isinstance(payload, dict) and PACKED in payload:
        return from_packed(payload[PACKED])
    if top_k <= 0:
        return None
    found = capture(
        payload,
        top_k,
        raw_content=raw_content,
        raw_reasoning=raw_reasoning,
        answer=answer,
        redact=redact,
    )
    return SoftLabelCapture(ABSENT) if found is None else found


def error_message(text: str) -> str:
    """The human part of an error body: `error.message`, else the start of the text; control
    characters removed as from any model text (NUL cannot be stored by PostgreSQL)."""
    return storable_text(_error_text(text))


def _error_text(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
        if isinstance(body.get("message"), str):
            return str(body["message"])[:300]
    return " ".join(text.split())[:300] or "(empty body)"
