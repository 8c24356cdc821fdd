"""Detached, ready-to-call copies of an endpoint row and a project's limits.

An EndpointConfig is built from its row by ``services.endpoints.endpoint_config``, where
the key is resolved (the llm layer reads no keys file)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from distillset.store.models import Project


@dataclass(frozen=True)
class EndpointConfig:
    """What a call needs from a ModelEndpoint row; safe to use after its session closed."""

    alias: str
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)
    structured_output: str = "none"
    concurrency: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    price_input_per_m: float | None = None
    price_output_per_m: float | None = None
    # Input tokens served from the provider's prompt cache (None: at the input price), and
    # the share taken off every price for requests sent through its batch interface.
    price_cached_input_per_m: float | None = None
    batch_discount: float | None = None
    # Answers are requested streamed (the result is the same; see Gateway.chat).
    stream: bool = False
    # The concurrency is learned from the replies, under the maximum (see llm/adaptive.py).
    adaptive: bool = True
    # Where the learned limit starts: what the endpoint's last run learned (None: from low).
    learned_concurrency: int | None = None
    # Answers ask for the top `logprobs` alternatives of every token (0: soft labels off);
    # `tokenizer` names the tokenizer their ids belong to (e.g. a Hugging Face repo id).
    logprobs: int = 0
    tokenizer: str | None = None
    # A conversation's history sends the assistant turns' reasoning back (reasoning_content).
    reasoning_in_history: bool = False
    # Where a key named for this endpoint was looked for in vain (requests go without one).
    key_missing: str | None = None

    @functools.cached_property
    def body_defaults(self) -> Mapping[str, Any]:
        """What every request body carries besides model and messages: the sampling
        parameters that are set (0 is a real value, None is unset), then the extra body.
        Built once per endpoint, so read-only."""
        values = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        values["top_p"] = self.top_p
        defaults = {name: value for name, value in values.items() if value is not None}
        defaults.update(self.extra_body)
        return MappingProxyType(defaults)

    def cost_of(
        self,
        input_tokens: int | None,
        output_tokens: int | None,
        *,
        cached_input_tokens: int | None = None,
        batch: bool = False,
    ) -> float | None:
        """What a call costs: its cached input tokens at the cache-hit price (where the
        endpoint has one), the rest at the input price; less the batch discount for a
        request sent in a batch. None when the endpoint has no prices."""
        if self.price_input_per_m is None and self.price_output_per_m is None:
            return None
        input_price = self.price_input_per_m or 0.0
        cached = min(cached_input_tokens or 0, input_tokens or 0)
        cached_price = self.price_cached_input_per_m
        if cached_price is None:
            cached_price = input_price
        cost = ((input_tokens or 0) - cached) * input_price + cached * cached_price
        cost += (output_tokens or 0) * (self.price_output_per_m or 0.0)
        if batch:
            cost *= 1.0 - (self.batch_discount or 0.0)
        return cost / 1_000_000


@dataclass(frozen=True)
class LimitSettings:
    """A project's call limits. Backoff fields have defaults so tests can shorten them."""

    max_concurrency: int = 8
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_retries: int = 3
    request_timeout: float = 120.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    @classmethod
    def from_project(cls, project: Project) -> LimitSettings:
        return cls(
            max_concurrency=project.max_concurrency,
            requests_per_minute=project.requests_per_minute,
            tokens_per_minute=project.tokens_per_minute,
            max_retries=project.max_retries,
            request_timeout=project.request_timeout,
        )
