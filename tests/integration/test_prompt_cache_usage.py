"""Cached input tokens: read from the usage as OpenAI and DeepSeek report them, recorded in
the call log, priced at the endpoint's cache-hit price, and shown in the task's usage."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from sqlalchemy import select
from typer.testing import Result

from distillset.llm import EndpointConfig, LimitSettings, open_gateway
from distillset.llm.completion import usage_of
from distillset.store import LlmCall, Store
from distillset.testing import FakeModelServer

RULES = "Answer as a careful coach. " * 40  # a long stable prefix (about 1,000 characters)
Cli = Callable[..., Result]


def _ask(store: Store, endpoint: EndpointConfig, questions: list[str]) -> list[LlmCall]:
    async def scenario() -> None:
        async with open_gateway(store, LimitSettings(max_retries=0), project_id=None) as gateway:
            for question in questions:
                messages = [
                    {"role": "system", "content": RULES},
                    {"role": "user", "content": question},
                ]
                await gateway.chat(endpoint, messages, purpose="answer")

    asyncio.run(scenario())
    with store.session() as session:
        return list(session.scalars(select(LlmCall).order_by(LlmCall.id)))


@pytest.mark.usefixtures("database")
@pytest.mark.parametrize("style", ["openai", "deepseek"])
def test_cached_input_tokens_are_recorded_and_priced_at_the_cache_hit_price(
    store: Store, fake_server: FakeModelServer, style: str
) -> None:
    fake_server.configure(cache_report=style)
    endpoint = fake_server.endpoint(
        price_input_per_m=2.0, price_output_per_m=8.0, price_cached_input_per_m=0.5
    )
    first, second = _ask(store, endpoint, ["How long is a warm-up?", "Why stretch?"])
    assert first.cached_input_tokens == 0  # nothing seen before
    assert second.cached_input_tokens is not None
    assert 0 < second.cached_input_tokens < (second.input_tokens or 0)
    assert second.input_tokens and second.output_tokens
    fresh = second.input_tokens - second.cached_input_tokens
    expected = (fresh * 2.0 + second.cached_input_tokens * 0.5 + second.output_tokens * 8.0) / 1e6
    assert second.cost == pytest.approx(expected)


def test_without_a_cache_hit_price_cached_tokens_cost_the_input_price(
    store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(cache_report="openai")
    endpoint = fake_server.endpoint(price_input_per_m=2.0, price_output_per_m=8.0)
    _first, second = _ask(store, endpoint, ["How long is a warm-up?", "Why stretch?"])
    assert second.cached_input_tokens
    assert second.input_tokens and second.output_tokens
    expected = (second.input_tokens * 2.0 + second.output_tokens * 8.0) / 1e6
    assert second.cost == pytest.approx(expected)


def test_usage_reads_both_ways_of_reporting_cached_tokens() -> None:
    openai = {"usage": {"prompt_tokens": 90, "prompt_tokens_details": {"cached_tokens": 64}}}
    deepseek = {"usage": {"prompt_tokens": 90, "prompt_cache_hit_tokens": 32}}
    neither = {"usage": {"prompt_tokens": 90, "completion_tokens": 5}}
    assert usage_of(openai).cached_input_tokens == 64
    assert usage_of(deepseek).cached_input_tokens == 32
    assert usage_of(neither).cached_input_tokens is None


def test_a_task_shows_its_cached_input_tokens(
    cli: Cli, cli_project_factory: Callable[[str], str], fake_server: FakeModelServer
) -> None:
    fake_server.configure(cache_report="openai")
    name = cli_project_factory("Cached")
    assert cli("model", "set", "fake", "--price-in", "2", "--price-cached-in", "0.5").exit_code == 0
    result = cli("auto", name, "--levels", "1", "--tags", "2", "--questions", "3", "--json")
    assert result.exit_code == 0, result.output
    calls = json.loads(result.stdout)["counters"]["calls"]
    assert calls["cached_input_tokens"] > 0  # the questions prompts share their rules
    shown = cli("model", "show", "fake", "--json")
    assert json.loads(shown.stdout)["price_cached_input_per_m"] == 0.5
