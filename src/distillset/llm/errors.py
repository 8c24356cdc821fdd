"""Errors of the gateway beyond the domain's ModelCallError."""

from __future__ import annotations

from distillset.domain import ModelCallError


class ModelOutputError(ModelCallError):
    """The model answered, but nothing usable could be read from its reply.

    The raw reply is kept in the LlmCall row named by ``call_id`` for inspection.
    """

    def __init__(self, message: str, *, raw_text: str = "", call_id: int | None = None) -> None:
        super().__init__(message, None)
        self.raw_text = raw_text
        self.call_id = call_id


class RequestRefused(ModelCallError):
    """The server does not take one part of the request (``part``: response_format, schema
    max_tokens or logprobs, see refusals); the same request without it may succeed."""

    def __init__(self, message: str, status: int | None, *, part: str) -> None:
        super().__init__(message, status)
        self.part = part
