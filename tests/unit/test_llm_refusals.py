"""Which part of a request a 400 body says the server does not take (real servers' bodies)."""

from __future__ import annotations

import json

import pytest

from distillset.llm.refusals import FORMAT, MAX_TOKENS, SCHEMA, refused_part

WITH_FORMAT = {"model": "m", "messages": [], "response_format": {"type": "json_schema"}}
BOUNDED = {**WITH_FORMAT, "max_tokens": 100}


def _body(message: str, kind: str = "invalid_request_error", **extra: object) -> str:
    return json.dumps({"error": {"message": message, "type": kind, **extra}})


@pytest.mark.parametrize(
    ("body", "request_body", "expected"),
    [
        (_body("response_format is not supported"), WITH_FORMAT, FORMAT),
        (_body("Unrecognized request argument supplied: response_format"), WITH_FORMAT, FORMAT),
        (
            _body("Invalid schema for response_format 'items': 'maxItems' is not permitted."),
            WITH_FORMAT,
            SCHEMA,
        ),
        (_body("JSON schema conversion failed: unsupported keyword"), WITH_FORMAT, SCHEMA),
        (
            _body(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                param="max_tokens",
            ),
            BOUNDED,
            MAX_TOKENS,
        ),
        # llama-server's context overflow: the real reason, never a refused format.
        (
            _body(
                "the request exceeds the available context size, try increasing it",
                "exceed_context_size_error",
                n_prompt_tokens=5000,
                n_ctx=4096,
            ),
            BOUNDED,
            None,
        ),
        (_body("The model `gpt-5x` does not exist", "invalid_request_error"), WITH_FORMAT, None),
        ("", WITH_FORMAT, None),  # no reason given: nothing to drop
        (_body("response_format is not supported"), {"model": "m", "messages": []}, None),
    ],
)
def test_refused_part(body: str, request_body: dict[str, object], expected: str | None) -> None:
    assert refused_part(400, body, request_body) == expected


def test_only_400_and_422_are_refusals() -> None:
    assert refused_part(500, _body("response_format is not supported"), WITH_FORMAT) is None
    assert refused_part(422, _body("response_format is not supported"), WITH_FORMAT) == FORMAT
