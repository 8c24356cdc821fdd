"""Revision 0012 on a database with endpoints and calls: endpoints keep their prices with no
cache-hit price or batch discount, and old calls say nothing of cached tokens. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable

from reliability_support import store_at_revision
from sqlalchemy import select
from typer.testing import Result

from distillset.config import Settings
from distillset.store import LlmBatch, LlmCall, open_store

NOW = "2025-01-01 00:00:00"
OLD_DATA = [
    "INSERT INTO model_endpoints (id, alias, base_url, model, extra_body, structured_output,"
    f" stream, price_input_per_m, created_at) VALUES (1, 'teacher', 'http://127.0.0.1:9/v1',"
    f" 'big', '{{}}', 'none', false, 2.5, '{NOW}')",
    "INSERT INTO llm_calls (id, endpoint_alias, purpose, request_key, status, input_tokens,"
    f" cost, attempts, created_at) VALUES (1, 'teacher', 'answer', 'k1', 'ok', 90, 0.1, 1,"
    f" '{NOW}')",
]


def test_endpoints_and_calls_from_before_0012_carry_over(
    database: str, settings: Settings, cli: Callable[..., Result]
) -> None:
    store_at_revision(settings, "0010_soft_labels", OLD_DATA)

    endpoint = json.loads(cli("model", "show", "teacher", "--json").stdout)

    assert endpoint["price_input_per_m"] == 2.5
    assert (endpoint["price_cached_input_per_m"], endpoint["batch_discount"]) == (None, None)
    store = open_store(settings)
    try:
        with store.session() as session:
            call = session.scalars(select(LlmCall)).one()
            assert (call.input_tokens, call.cached_input_tokens) == (90, None)
            assert session.scalars(select(LlmBatch)).all() == []
    finally:
        store.close()
