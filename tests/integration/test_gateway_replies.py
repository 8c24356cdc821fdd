"""Reply handling over real HTTP: reasoning styles, streaming, lists and their quirks."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from distillset.llm import (
    ChatResult,
    EndpointConfig,
    LimitSettings,
    ListResult,
    open_gateway,
)
from distillset.llm.errors import ModelOutputError
from distillset.store import LlmCall, Store
from distillset.testing import FakeModelServer
from distillset.testing.fake_config import REASONING_STYLES
from distillset.testing.fake_content import answer_for, list_items
from distillset.testing.fake_replies import PROSE_BEFORE

ASK = [{"role": "user", "content": "How should a sprinter breathe?"}]
LIST_PROMPT = (
    "Tag path: Physical Education and Sports > Athletics > Sprinting\n"
    "Write exactly 6 questions about this tag. Reply with a JSON array of strings."
)
LIST_ASK = [{"role": "user", "content": LIST_PROMPT}]


def _chat(store: Store, endpoint: EndpointConfig, *, stream: bool = False) -> ChatResult:
    async def scenario() -> ChatResult:
        async with open_gateway(
            store, LimitSettings(), project_id=None, use_cache=False
        ) as gateway:
            return await gateway.chat(endpoint, ASK, purpose="answer", stream=stream)

    return asyncio.run(scenario())


def _list(store: Store, endpoint: EndpointConfig) -> ListResult:
    async def scenario() -> ListResult:
        async with open_gateway(
            store, LimitSettings(), project_id=None, use_cache=False
        ) as gateway:
            return await gateway.chat_list(endpoint, LIST_ASK, purpose="questions")

    return asyncio.run(scenario())


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("style", REASONING_STYLES)
def test_every_reasoning_style_is_split(
    store: Store, fake_server: FakeModelServer, style: str, stream: bool
) -> None:
    fake_server.configure(reasoning_style=style)
    result = _chat(store, fake_server.endpoint(), stream=stream)
    reasoning, answer = answer_for(ASK[-1]["content"])
    assert result.content == answer
    assert result.reasoning == (None if style == "none" else reasoning)
    assert answer.startswith("In short, how should a sprinter breathe?")
    assert reasoning.startswith("The user asks: How should a sprinter breathe?")
    assert fake_server.stats().bodies[-1].get("stream", False) is stream


def test_streamed_and_plain_results_are_the_same(
    store: Store, fake_server: FakeModelServer
) -> None:
    plain = _chat(store, fake_server.endpoint())
    streamed = _chat(store, fake_server.endpoint(), stream=True)
    assert (streamed.content, streamed.reasoning, streamed.finish_reason) == (
        plain.content,
        plain.reasoning,
        plain.finish_reason,
    )
    assert streamed.input_tokens == plain.input_tokens
    assert streamed.output_tokens == plain.output_tokens


@pytest.mark.parametrize(
    ("quirk", "count", "sign"),
    [
        (None, 6, '[\n "'),
        ("too_few", 3, '[\n "'),
        ("too_many", 9, '[\n "'),
        ("duplicates", 6, '[\n "'),
        ("code_fence", 6, "```json\n["),
        ("numbering", 6, '"1. '),
        ("object_wrapped", 6, '{\n "questions": ['),
        ("prose", 6, PROSE_BEFORE),
        ("plain_lines", 6, "\n2. "),
        ("bulleted", 6, "\n* "),
        ("quoted_items", 6, '[\n "“'),
        ("mixed_types", 6, "[\n 7,"),
        ("near_json", 6, "',\n]"),
    ],
)
def test_every_list_quirk_parses_to_the_clean_list(
    store: Store, fake_server: FakeModelServer, quirk: str | None, count: int, sign: str
) -> None:
    fake_server.configure(reasoning_style="think")
    if quirk:
        fake_server.configure(**{quirk: 1.0})
    result = _list(store, fake_server.endpoint())
    assert sign in result.result.content  # the reply really has the quirk
    assert result.items == list_items(LIST_PROMPT, count)
    assert all("Sprinting" in item for item in result.items)


@pytest.mark.parametrize("near_json", [0, 1])
def test_all_quirks_at_once_still_parse(
    store: Store, fake_server: FakeModelServer, near_json: int
) -> None:
    fake_server.configure(
        reasoning_style="think",
        duplicates=1,
        code_fence=1,
        numbering=1,
        object_wrapped=1,
        prose=1,
        quoted_items=1,
        mixed_types=1,
        near_json=near_json,
    )
    assert _list(store, fake_server.endpoint()).items == list_items(LIST_PROMPT, 6)


@pytest.mark.parametrize("lines", ["plain_lines", "bulleted"])
def test_quoted_items_in_lines_parse(
    store: Store, fake_server: FakeModelServer, lines: str
) -> None:
    fake_server.configure(quoted_items=1, duplicates=1, **{lines: 1.0})
    assert _list(store, fake_server.endpoint()).items == list_items(LIST_PROMPT, 6)


@pytest.mark.parametrize("mode", ["json_schema", "json_object"])
def test_structured_output_is_requested_when_supported(
    store: Store, fake_server: FakeModelServer, mode: str
) -> None:
    fake_server.configure(code_fence=1, prose=1)  # ignored: the format is honoured
    result = _list(store, fake_server.endpoint(structured_output=mode))
    assert result.items == list_items(LIST_PROMPT, 6)
    body = fake_server.stats().bodies[-1]
    assert body["response_format"]["type"] == mode
    if mode == "json_object":
        assert '{"items"' in body["messages"][-1]["content"]
    assert result.result.content.startswith('{"items"')


def test_no_response_format_without_support(store: Store, fake_server: FakeModelServer) -> None:
    _list(store, fake_server.endpoint(structured_output="none"))
    assert "response_format" not in fake_server.stats().bodies[-1]


def test_an_unusable_list_is_an_output_error_with_the_raw_text_kept(
    store: Store, fake_server: FakeModelServer
) -> None:
    async def scenario() -> None:
        async with open_gateway(store, LimitSettings(), project_id=None) as gateway:
            await gateway.chat_list(fake_server.endpoint(), ASK, purpose="questions")

    with pytest.raises(ModelOutputError) as caught:
        asyncio.run(scenario())
    assert caught.value.raw_text.startswith("In short")
    with store.session() as session:
        row = session.scalars(select(LlmCall)).one()
    assert row.id == caught.value.call_id
    assert row.status == "invalid" and "no list" in (row.error or "")
    assert row.response_body and "In short" in row.response_body
    with pytest.raises(ModelOutputError):  # not served from the cache: asked again
        asyncio.run(scenario())
    assert fake_server.stats().total == 2


def test_sampling_overrides_and_extra_body_reach_the_server(
    store: Store, fake_server: FakeModelServer
) -> None:
    endpoint = fake_server.endpoint(
        temperature=0.0, max_tokens=300, extra_body={"chat_template_kwargs": {"x": 1}}
    )

    async def scenario() -> None:
        async with open_gateway(store, LimitSettings(), project_id=None) as gateway:
            await gateway.chat(endpoint, ASK, purpose="t", sampling={"top_p": 0.5})

    asyncio.run(scenario())
    body = fake_server.stats().bodies[-1]
    assert body["temperature"] == 0.0 and body["max_tokens"] == 300 and body["top_p"] == 0.5
    assert body["chat_template_kwargs"] == {"x": 1}


def test_a_refused_response_format_falls_back_to_the_prompt(
    store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(reject_response_format=True, code_fence=1)
    result = _list(store, fake_server.endpoint(structured_output="json_schema"))
    assert result.items == list_items(LIST_PROMPT, 6)
    first, second = fake_server.stats().bodies
    assert "response_format" in first and "response_format" not in second
    assert fake_server.stats().by_status == {400: 1, 200: 1}
