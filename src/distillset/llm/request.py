"""Building a chat request body and its cache key."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from distillset.llm.config import EndpointConfig

# Rough token counts for budgeting before the server reports usage: about four
# characters per token for Latin text, about one per character for CJK.
CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4


def build_body(
    endpoint: EndpointConfig,
    messages: list[dict[str, str]],
    *,
    sampling: dict[str, Any] | None,
    response_format: dict[str, Any] | None,
) -> dict[str, Any]:
    """The request body without `stream`: endpoint defaults, extra body, per-call overrides."""
    body: dict[str, Any] = {"model": endpoint.model, "messages": messages}
    body.update(endpoint.body_defaults)
    if sampling:
        body.update(sampling)
    if response_format is not None:
        body["response_format"] = response_format
    return body


# One encoder for every request: json.dumps builds a new one per call when given options.
# Bodies are plain JSON data built here, never circular: skip the per-call circularity map.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), check_circular=False
)


def canonical_json(body: dict[str, Any]) -> str:
    """The body as sent and stored: sorted keys, so equal requests give equal text."""
    return _CANONICAL.encode(body)


def request_key(
    base_url: str,
    body: dict[str, Any],
    attempt: int,
    canonical: str | None = None,
    variant: int = 0,
) -> str:
    """sha256 of the canonical request: base URL, model, messages, parameters, attempt, and
    the sample (``variant``) it asks for: N samples of one request are N cache entries.
    Variant 0 keeps the key it always had, so earlier caches still answer first samples."""
    text = canonical_json(body) if canonical is None else canonical
    head = f"{base_url.rstrip('/')}\n{attempt}\n"
    if variant:
        head += f"sample {variant}\n"
    return hashlib.sha256((head + text).encode("utf-8", "surrogatepass")).hexdigest()


def estimate_input_tokens(messages: list[dict[str, str]]) -> int:
    total = 0
    for message in messages:
        text = str(message.get("content") or "")
        wide = 0 if text.isascii() else sum(1 for char in text if ord(char) > 0x2E80)
        total += wide + (len(text) - wide) // CHARS_PER_TOKEN + MESSAGE_OVERHEAD_TOKENS
    return total
