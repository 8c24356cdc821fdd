from __future__ import annotations

from distillset.llm import EndpointConfig
from distillset.llm.request import build_body, estimate_input_tokens, request_key

ENDPOINT = EndpointConfig(
    alias="t",
    base_url="http://127.0.0.1:1/v1",
    model="m",
    api_key="sk-secret",
    temperature=0.0,
    max_tokens=256,
    extra_body={"chat_template_kwargs": {"enable_thinking": True}},
)
MESSAGES = [{"role": "user", "content": "hi"}]


def test_body_has_defaults_extra_body_and_overrides() -> None:
    body = build_body(ENDPOINT, MESSAGES, sampling={"max_tokens": 10}, response_format=None)
    assert body["temperature"] == 0.0  # zero is a real value
    assert body["max_tokens"] == 10
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert "top_p" not in body
    assert "sk-secret" not in str(body)


def test_key_depends_on_request_and_attempt_only() -> None:
    body = build_body(ENDPOINT, MESSAGES, sampling=None, response_format=None)
    same = build_body(ENDPOINT, [dict(m) for m in MESSAGES], sampling=None, response_format=None)
    assert request_key(ENDPOINT.base_url, body, 0) == request_key(ENDPOINT.base_url + "/", same, 0)
    assert request_key(ENDPOINT.base_url, body, 0) != request_key(ENDPOINT.base_url, body, 1)
    hotter = build_body(ENDPOINT, MESSAGES, sampling={"temperature": 1.0}, response_format=None)
    assert request_key(ENDPOINT.base_url, body, 0) != request_key(ENDPOINT.base_url, hotter, 0)
    formatted = build_body(ENDPOINT, MESSAGES, sampling=None, response_format={"type": "x"})
    assert request_key(ENDPOINT.base_url, body, 0) != request_key(ENDPOINT.base_url, formatted, 0)


def test_key_is_not_in_repr_of_config() -> None:
    assert "sk-secret" not in repr(ENDPOINT)


def test_token_estimate_counts_cjk_per_character() -> None:
    latin = estimate_input_tokens([{"role": "user", "content": "a" * 400}])
    chinese = estimate_input_tokens([{"role": "user", "content": "球" * 400}])
    assert latin < chinese
    assert 100 <= latin <= 110
