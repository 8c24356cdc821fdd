"""One HTTP attempt at a chat completion, and how it ended."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from distillset.llm.completion import (
    NO_USAGE,
    Completion,
    MalformedReply,
    Usage,
    error_message,
    parse_completion,
)
from distillset.llm.config import EndpointConfig
from distillset.llm.redact import Redact
from distillset.llm.retry import is_retryable_status, retry_after_seconds
from distillset.llm.transport import RawReply, Transport, TransportError

# The request field (vLLM's) by which a server is asked to score the prompt's tokens.
SCORING_FIELD = "prompt_logprobs"
# Statuses by which a server says it has too much to do.
OVERLOAD_STATUSES = frozenset({429, 502, 503, 504, 529})


@dataclass(slots=True)
class Attempt:
    """How one HTTP attempt ended."""

    completion: Completion | None = None
    error: str | None = None
    http_status: int | None = None
    retryable: bool = False
    wait: float | None = None
    body: str | None = None
    latency_ms: float = 0.0
    # Tokens the reply reports, even when it is rejected and retried: each one is billed.
    usage: Usage = NO_USAGE

    @property
    def overloaded(self) -> bool:
        """A sign that the server takes fewer requests at once: told so (429, 503...), or
        no reply at all (a timeout, a refused connection)."""
        if self.http_status is None:
            return self.error is not None
        return self.http_status in OVERLOAD_STATUSES


async def send_attempt(
    transport: Transport,
    endpoint: EndpointConfig,
    url: str,
    payload: bytes,
    stream: bool,
    redact: Redact,
    top_k: int = 0,
    *,
    scoring: bool = False,
) -> Attempt:
    """One request; the reply is read only after ``redact`` took the key out of it, so
    nothing derived from it (content, errors, the stored body) can carry the key. With
    ``top_k`` the soft labels of the reply are read too."""
    started = time.perf_counter()
    try:
        reply = await transport.send(endpoint, url, payload, stream=stream)
    except TransportError as exc:
        outcome = Attempt(error=redact(str(exc)), retryable=True)
    else:
        reply.text = redact(reply.text)
        # Tokens are checked for the key only where there is one to find.
        outcome = judge_reply(reply, top_k, redact if endpoint.api_key else None, scoring=scoring)
    # A failure has a latency too: the time it took to fail.
    outcome.latency_ms = (time.perf_counter() - started) * 1000
    return outcome


def judge_reply(
    reply: RawReply, top_k: int = 0, redact: Redact | None = None, *, scoring: bool = False
) -> Attempt:
    """How a reply ended: its completion, or why it failed. A ``scoring`` request (see
    SCORING_FIELD) generates one token only to be valid: its cut or emptiness is fine."""
    if reply.status != 200:
        return Attempt(
            error=f"HTTP {reply.status}: {error_message(reply.text)}",
            http_status=reply.status,
            retryable=is_retryable_status(reply.status),
            wait=retry_after_seconds(reply.headers),
            body=reply.text,
        )
    try:
        completion = parse_completion(reply.text, top_k=top_k, redact=redact)
    except MalformedReply as exc:
        return Attempt(
            error=str(exc), http_status=200, retryable=True, body=reply.text, usage=exc.usage
        )
    failure = None
    if scoring:
        pass
    elif completion.finish_reason == "length":
        failure = "the output was cut at the token limit (finish_reason=length)"
    elif not completion.content:
        failure = "the model returned empty content"
    return Attempt(
        completion=completion,
        error=failure,
        http_status=200,
        retryable=failure is not None,
        body=completion.stored_body or reply.text,
        usage=completion.usage,
    )


def explained_failure(
    outcome: Attempt, body: dict[str, Any], endpoint: EndpointConfig
) -> str | None:
    """The failure, with what the user can do about it: a refused request of an endpoint
    whose key is missing says so; a reply cut at a bound the user did not set names it."""
    error = outcome.error
    if error is None:
        return None
    if outcome.http_status in (401, 403) and endpoint.key_missing is not None:
        return f"{error} (no API key was sent: {endpoint.key_missing})"
    bound = body.get("max_tokens")
    cut = outcome.completion is not None and outcome.completion.finish_reason == "length"
    if cut and bound is not None and endpoint.max_tokens is None:
        return (
            f"{error}; {bound} output tokens is the default bound of this request: "
            f"raise it with `distillset model set {endpoint.alias} --max-tokens N`"
        )
    return error
