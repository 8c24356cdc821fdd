"""Failures over real HTTP: retried when worth it, else a clear error and a kept row."""

from __future__ import annotations

import asyncio
import socket

import pytest
from sqlalchemy import select

from distillset.domain import ModelCallError
from distillset.llm import ChatResult, EndpointConfig, LimitSettings, open_gateway
from distillset.store import LlmCall, Store
from distillset.testing import FakeModelServer

ASK = [{"role": "user", "content": "Why do athletes warm up?"}]
FAST = LimitSettings(max_concurrency=4, max_retries=3, request_timeout=0.5, backoff_base=0.01)


def _chat(
    store: Store, endpoint: EndpointConfig, limits: LimitSettings = FAST, *, use_cache: bool = True
) -> ChatResult:
    async def scenario() -> ChatResult:
        async with open_gateway(store, limits, project_id=None, use_cache=use_cache) as gateway:
            return await gateway.chat(endpoint, ASK, purpose="test")

    return asyncio.run(scenario())


def _rows(store: Store) -> list[LlmCall]:
    with store.session() as session:
        return list(session.scalars(select(LlmCall).order_by(LlmCall.id)))


@pytest.mark.parametrize("fault", ["500", "stall", "malformed", "truncated", "empty"])
def test_a_passing_fault_is_retried_then_succeeds(
    store: Store, fake_server: FakeModelServer, fault: str
) -> None:
    fake_server.queue_faults(fault, fault)
    result = _chat(store, fake_server.endpoint())
    assert result.content and result.finish_reason == "stop"
    assert fake_server.stats().total == 3
    (row,) = _rows(store)
    assert row.status == "ok" and row.attempts == 3


@pytest.mark.parametrize(
    ("fault", "message", "status"),
    [
        ("500", "HTTP 500", 500),
        ("stall", "no response within", None),
        ("malformed", "not valid JSON", 200),
        ("truncated", "finish_reason=length", 200),
        ("empty", "empty content", 200),
    ],
)
def test_a_lasting_fault_is_a_clear_error_with_a_recorded_row(
    store: Store, fake_server: FakeModelServer, fault: str, message: str, status: int | None
) -> None:
    fake_server.queue_faults(*[fault] * 3)
    limits = LimitSettings(max_retries=2, request_timeout=0.3, backoff_base=0.01)
    with pytest.raises(ModelCallError) as caught:
        _chat(store, fake_server.endpoint(), limits)
    assert message in str(caught.value)
    assert "3 attempt" in str(caught.value)
    assert caught.value.status == status
    (row,) = _rows(store)
    assert row.status == "error" and row.attempts == 3 and message in (row.error or "")
    assert fake_server.stats().total == 3


def test_truncated_output_is_a_failure_even_with_text(
    store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(rate_truncated=1.0)
    with pytest.raises(ModelCallError, match="length"):
        _chat(store, fake_server.endpoint(), LimitSettings(max_retries=0))
    (row,) = _rows(store)
    assert row.response_body and '"length"' in row.response_body
    assert row.output_tokens is not None  # a cut answer is still paid for


def test_client_errors_are_not_retried(store: Store, fake_server: FakeModelServer) -> None:
    fake_server.configure(require_api_key="sk-right-key")
    with pytest.raises(ModelCallError) as caught:
        _chat(store, fake_server.endpoint(api_key="sk-wrong-key-123"))
    assert caught.value.status == 401
    assert fake_server.stats().total == 1


def test_the_key_is_sent_but_never_stored_or_shown(
    store: Store, fake_server: FakeModelServer
) -> None:
    secret = "sk-planted-secret-987"
    fake_server.configure(require_api_key=secret)
    result = _chat(store, fake_server.endpoint(api_key=secret))
    assert result.content
    fake_server.configure(require_api_key="sk-other")
    with pytest.raises(ModelCallError) as caught:
        _chat(store, fake_server.endpoint(api_key=secret), use_cache=False)
    assert caught.value.status == 401
    assert secret not in str(caught.value)
    with store.engine.connect() as connection:
        dump = "\n".join(connection.connection.iterdump())  # type: ignore[attr-defined]
    assert secret not in dump
    assert secret not in repr(fake_server.config)


def test_a_down_endpoint_fails_with_one_clear_line(store: Store) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = EndpointConfig(alias="down", base_url=f"http://127.0.0.1:{port}/v1", model="m")
    with pytest.raises(ModelCallError) as caught:
        _chat(store, endpoint, LimitSettings(max_retries=1, backoff_base=0.01))
    assert "cannot connect" in str(caught.value)
    assert "\n" not in str(caught.value)
