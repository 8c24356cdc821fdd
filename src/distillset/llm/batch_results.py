"""Reading a batch's result lines: each line's completion, or why it failed, and the call
log row it becomes (its key redacted, priced at the batch price)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from distillset.llm.completion import Completion, MalformedReply, parse_completion, usage_of
from distillset.llm.config import EndpointConfig
from distillset.llm.redact import redact_values, redactor


@dataclass(frozen=True)
class LineSource:
    """The request a result line answers, and what its call log row says besides."""

    project_id: int | None
    task_id: int | None
    endpoint: EndpointConfig
    purpose: str
    key: str
    canonical: str
    attempts: int
    latency_ms: float

    def row(self, **values: Any) -> dict[str, Any]:
        base = {
            "project_id": self.project_id,
            "task_id": self.task_id,
            "endpoint_alias": self.endpoint.alias,
            "purpose": self.purpose,
            "request_key": self.key,
            "request_body": self.canonical,
            "latency_ms": self.latency_ms,
            "attempts": self.attempts,
        }
        return redact_values(base | values, redactor(self.endpoint.api_key))


def line_outcome(line: dict[str, Any], source: LineSource) -> tuple[Completion, str] | str:
    """A line's completion and its body text, or why it failed."""
    response = line.get("response")
    error = line.get("error")
    if isinstance(error, dict) and error:
        return str(error.get("message") or error.get("code") or "failed")[:300]
    if not isinstance(response, dict):
        return "no response in the batch output"
    status = response.get("status_code")
    body = response.get("body")
    if status != 200 or not isinstance(body, dict):
        detail = body.get("error") if isinstance(body, dict) else None
        message = detail.get("message") if isinstance(detail, dict) else None
        return f"HTTP {status}: {message or 'failed'}"[:300]
    text = json.dumps(body, ensure_ascii=False)
    api_key = source.endpoint.api_key
    redact = redactor(api_key)
    try:
        completion = parse_completion(
            redact(text), top_k=top_k(source.canonical), redact=redact if api_key else None
        )
    except MalformedReply as exc:
        return str(exc)
    return completion, text


def success_row(source: LineSource, completion: Completion, text: str) -> dict[str, Any]:
    usage = completion.usage
    cost = source.endpoint.cost_of(
        usage.input_tokens,
        usage.output_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        batch=True,
    )
    return source.row(
        status="ok",
        http_status=200,
        error=None,
        response_body=completion.stored_body or text,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        cost=cost,
    )


def failure_row(source: LineSource, message: str, line: dict[str, Any]) -> dict[str, Any]:
    """A line that failed for good: logged as an error, with what it was billed if its
    body reports usage."""
    response = line.get("response")
    response = response if isinstance(response, dict) else {}
    body = response.get("body")
    values: dict[str, Any] = {
        "status": "error",
        "http_status": response.get("status_code"),
        "error": message,
        "response_body": None if body is None else json.dumps(body, ensure_ascii=False),
    }
    usage = usage_of(body) if isinstance(body, dict) else None
    if usage is not None and usage.reported:
        values["input_tokens"], values["output_tokens"] = usage.input_tokens, usage.output_tokens
        values["cost"] = source.endpoint.cost_of(
            usage.input_tokens, usage.output_tokens, batch=True
        )
    return source.row(**values)


def top_k(canonical: str) -> int:
    """How many alternatives per token the request asked for (0: no logprobs)."""
    body = json.loads(canonical)
    if not body.get("logprobs"):
        return 0
    return int(body.get("top_logprobs") or 0)
