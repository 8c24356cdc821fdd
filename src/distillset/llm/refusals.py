"""Reading why a server answered 400 / 422: a part of the request it does not take, or else.

A server without structured output refuses `response_format`; one with it may refuse a schema
keyword (`minItems`); a newer model may refuse `max_tokens`. The gateway can drop such a part
and ask again. Any other 400 (a prompt beyond the context size, a bad model name) is the real
reason and is reported as it is, never read as "structured output refused".
"""

from __future__ import annotations

import json
import re
from typing import Any

REFUSED_STATUSES = (400, 422)
FORMAT = "response_format"
SCHEMA = "schema"
MAX_TOKENS = "max_tokens"
LOGPROBS = "logprobs"

_CONTEXT = re.compile(r"context|too many tokens|too long|maximum (?:input|prompt)", re.I)
_REFUSAL = re.compile(
    r"not support|unsupported|not allowed|not permitted|not available|not implemented|"
    r"invalid|unknown|unrecognized|unexpected|extra (?:fields|inputs)|cannot|can't|does not",
    re.I,
)
_LOGPROBS_WORDS = re.compile(r"logprob", re.I)
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|structured|guided", re.I)
_SCHEMA_WORDS = re.compile(
    r"minitems|maxitems|schema (?:for|conversion|is invalid)|invalid (?:json )?schema|"
    r"schema.{0,40}(?:not permitted|not supported|unsupported)",
    re.I,
)


def error_fields(text: str | None) -> str:
    """The message, type, code and param of an error body, as one text to search."""
    try:
        body = json.loads(text or "")
    except ValueError:
        return text or ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        parts = [error.get(name) for name in ("message", "type", "code", "param")]
        return " ".join(str(part) for part in parts if part is not None)
    if isinstance(body, dict):
        return " ".join(str(body.get(name) or "") for name in ("error", "message", "detail"))
    return text or ""


def refused_part(status: int | None, error_body: str | None, request: dict[str, Any]) -> str | None:
    """The part of ``request`` the server says it does not take (FORMAT, SCHEMA, MAX_TOKENS
    or LOGPROBS), or None when it refused for another reason (or did not refuse)."""
    if status not in REFUSED_STATUSES:
        return None
    text = error_fields(error_body)
    if _CONTEXT.search(text):
        return None
    # Any refusal that names logprobs is about them ("... greater than max allowed: 20",
    # "logprobs is not supported with this model").
    if LOGPROBS in request and _LOGPROBS_WORDS.search(text):
        return LOGPROBS
    if not _REFUSAL.search(text):
        return None
    if MAX_TOKENS in request and MAX_TOKENS in text:
        return MAX_TOKENS
    if FORMAT not in request:
        return None
    if _SCHEMA_WORDS.search(text):
        return SCHEMA
    if _FORMAT_WORDS.search(text):
        return FORMAT
    return None
