"""What a call costs: cached input tokens at the cache-hit price, less the batch discount."""

from __future__ import annotations

import pytest

from distillset.config import load_settings
from distillset.llm import BatchOptions, EndpointConfig

PRICED = EndpointConfig(
    alias="a",
    base_url="http://127.0.0.1:9/v1",
    model="m",
    price_input_per_m=2.0,
    price_output_per_m=8.0,
    price_cached_input_per_m=0.5,
    batch_discount=0.5,
)


def test_cached_input_tokens_cost_the_cache_hit_price() -> None:
    assert PRICED.cost_of(1_000_000, 0) == pytest.approx(2.0)
    assert PRICED.cost_of(1_000_000, 0, cached_input_tokens=400_000) == pytest.approx(1.4)
    # A usage reporting more cached tokens than input tokens is read as all cached.
    assert PRICED.cost_of(100, 0, cached_input_tokens=500) == pytest.approx(100 * 0.5 / 1e6)


def test_a_batched_request_costs_the_price_less_the_discount() -> None:
    full = PRICED.cost_of(1000, 500, cached_input_tokens=200)
    assert full is not None
    assert PRICED.cost_of(1000, 500, cached_input_tokens=200, batch=True) == pytest.approx(full / 2)


def test_without_prices_nothing_is_known_of_the_cost() -> None:
    unpriced = EndpointConfig(alias="a", base_url="http://127.0.0.1:9/v1", model="m")
    assert unpriced.cost_of(10, 10, cached_input_tokens=5, batch=True) is None


def test_batch_options_come_from_the_settings(tmp_path: object) -> None:
    settings = load_settings(
        home=tmp_path, batch_poll_seconds=20, batch_poll_max_seconds=5, batch_max_lines=10
    )
    options = BatchOptions.from_settings(settings, frozenset({"answer"}))
    assert (options.poll_seconds, options.poll_max_seconds) == (20, 20)  # never below the first
    assert options.max_lines == 10 and options.purposes == {"answer"}
